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

export interface Traversal {
  deps: Dependencies;
  /** The symlink-free path inside the root the path names, when it resolves. */
  final?: string;
  /** The first component that does not exist: the watch waits on `dir` for `name`. */
  missing?: { dir: string; name: string };
  /** Why the walk stopped otherwise (a component not a directory, a loop, no permission). */
  error?: string;
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
  const stack = parts(p);
  let cur = '/';
  let hops = 0;
  while (stack.length) {
    const name = stack.shift()!;
    if (name === '..') {
      cur = path.posix.dirname(cur); // dirname('/') is '/': the root is the top
      continue;
    }
    addDep(deps, cur, name);
    const next = path.posix.join(cur, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(hostPath(root, next));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { deps, missing: { dir: cur, name } };
      if (code === 'ENOTDIR') return { deps, error: `${cur} is not a directory` };
      return { deps, error: `${next}: ${(e as Error).message}` };
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_HOPS) return { deps, error: 'too many levels of symbolic links' };
      let target: string;
      try {
        target = fs.readlinkSync(hostPath(root, next));
      } catch (e) {
        return { deps, error: `${next}: ${(e as Error).message}` };
      }
      if (target.startsWith('/')) cur = '/';
      stack.unshift(...parts(target));
      continue;
    }
    if (stack.length > 0 && !st.isDirectory()) return { deps, error: `${next} is not a directory` };
    cur = next;
    if (stack.length === 0) return { deps, final: cur };
  }
  // the path was "/" (or resolved to it)
  return { deps, final: cur };
}
