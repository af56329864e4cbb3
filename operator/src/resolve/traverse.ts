// Which directory entries a path's resolution goes through, inside a root:
// the names looked up in each directory, every symlink hop included. A watch
// that follows its path re-resolves when one of those entries changes (a file
// renamed over, a `..data` symlink retargeted, a parent replaced).
//
// This walk only decides what to listen to; it never decides what is watched.
// The identity of a watched file always comes from openat2(RESOLVE_IN_ROOT)
// (in-root.ts). Symlinks are resolved here the way RESOLVE_IN_ROOT does it:
// an absolute target restarts at the root, '..' stops at the root, so the
// walk, like the kernel, cannot leave the root.
import fs from 'node:fs';
import path from 'node:path';

/** Directories (paths inside the root) -> names looked up in them. */
export type Dependencies = Map<string, Set<string>>;

/** One symlink followed on the way (hive explain shows them). */
export interface Hop {
  /** The link, as a path inside the root (its directory already resolved). */
  link: string;
  /** Its target, as readlink(2) gives it. */
  target: string;
  /** Where the walk went: the link's target resolved inside the root. Set once the walk gets past it. */
  to?: string;
  /** An absolute target: resolved from the root, as RESOLVE_IN_ROOT does (not from the host's /). */
  absolute?: true;
  /** The target's '..' climbed past the root and stopped there (RESOLVE_IN_ROOT). */
  climbsPastRoot?: true;
}

export interface Traversal {
  deps: Dependencies;
  /** The symlink-free path inside the root the path names, when it resolves. */
  final?: string;
  /** The first component that does not exist: the watch waits on `dir` for `name`. */
  missing?: { dir: string; name: string };
  /** Why the walk stopped otherwise (a component not a directory, a loop, no permission). */
  error?: string;
  /** The error's errno name: ENOTDIR, ELOOP, EACCES, ... */
  code?: string;
  /** Every symlink followed, in order. */
  hops: Hop[];
}

const MAX_HOPS = 40; // the kernel's limit of symlinks in one resolution

/** The host's view of a path inside `root` ("/" = the host itself). */
export function hostPath(root: string, inRoot: string): string {
  return root === '/' ? inRoot : path.posix.join(root, inRoot);
}

export function addDep(deps: Dependencies, dir: string, name: string): void {
  let names = deps.get(dir);
  if (!names) deps.set(dir, (names = new Set()));
  names.add(name);
}

const parts = (p: string) => p.split('/').filter((c) => c !== '' && c !== '.');

export function traverse(root: string, p: string, deps: Dependencies = new Map()): Traversal {
  // each component remembers the hop whose target it came from (none: the path itself)
  const stack: { name: string; hop?: Hop }[] = parts(p).map((name) => ({ name }));
  const hops: Hop[] = [];
  /** The hop whose target held the link of each hop (a link inside a target). */
  const parent = new Map<Hop, Hop | undefined>();
  let cur = '/';
  const within = (h: Hop | undefined, of: Hop): boolean => {
    for (let x = h; x; x = parent.get(x)) if (x === of) return true;
    return false;
  };
  // a hop has arrived once nothing left to walk came from its target (or from a link in it)
  const arrived = () => {
    for (const h of hops) if (h.to === undefined && !stack.some((c) => within(c.hop, h))) h.to = cur;
  };
  const stop = (t: Omit<Traversal, 'deps' | 'hops'>): Traversal => {
    if (t.final) arrived();
    return { deps, hops, ...t };
  };
  while (stack.length) {
    const { name, hop } = stack.shift()!;
    if (name === '..') {
      if (cur === '/' && hop) hop.climbsPastRoot = true;
      cur = path.posix.dirname(cur); // dirname('/') is '/': the root is the top
      arrived();
      continue;
    }
    addDep(deps, cur, name);
    const next = path.posix.join(cur, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(hostPath(root, next));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return stop({ missing: { dir: cur, name } });
      if (code === 'ENOTDIR') return stop({ error: `${cur} is not a directory`, code });
      return stop({ error: `${next}: ${(e as Error).message}`, code });
    }
    if (st.isSymbolicLink()) {
      if (hops.length >= MAX_HOPS) return stop({ error: 'too many levels of symbolic links', code: 'ELOOP' });
      let target: string;
      try {
        target = fs.readlinkSync(hostPath(root, next));
      } catch (e) {
        return stop({ error: `${next}: ${(e as Error).message}`, code: (e as NodeJS.ErrnoException).code });
      }
      const h: Hop = { link: next, target, ...(target.startsWith('/') ? { absolute: true as const } : {}) };
      hops.push(h);
      parent.set(h, hop);
      if (target.startsWith('/')) cur = '/';
      stack.unshift(...parts(target).map((n) => ({ name: n, hop: h })));
      arrived(); // a target of "/" or "." is where it already is
      continue;
    }
    if (stack.length > 0 && !st.isDirectory()) return stop({ error: `${next} is not a directory`, code: 'ENOTDIR' });
    cur = next;
    arrived();
    if (stack.length === 0) return stop({ final: cur });
  }
  // the path was "/" (or resolved to it)
  return stop({ final: cur });
}
