// One watched pattern (a path or a glob, inside a root) -> the files it names
// now, and the directory entries that decide it (see traverse.ts), so a
// change to any of them can re-resolve it. One meaning for the CLI and the
// agent, on the host (root "/") and in containers (/host/proc/<pid>/root):
//   - a path names what it resolves to, symlinks followed inside the root;
//   - a path naming a directory watches the directory and the non-directory
//     entries directly in it (symlinks among them followed inside the root,
//     so a ConfigMap volume's `key -> ..data/key` entries are its files);
//     not recursive;
//   - a glob watches exactly what it matches (fast-glob, no symlink
//     following while matching; every match re-opened in the root), at most
//     `maxMatches` (more is reported, never silently dropped);
//   - a path that does not exist yet is pending: it is watched when it appears.
import fs from 'node:fs';
import os from 'node:os';
import fg from 'fast-glob';
import { native } from '../sys/addon';
import { kernelDev } from '../sys/devnum';
import { checkContainerPath, DEFAULT_MAX_MATCHES, InRootFile } from './in-root';
import { Dependencies, addDep, hostPath, traverse } from './traverse';

/** A directory whose every entry matters (a watched directory, a glob's level). */
export const ANY_NAME = '*';

export type PatternState = 'ok' | 'pending' | 'invalid' | 'error';

export interface PatternResolution {
  pattern: string;
  state: PatternState;
  files: InRootFile[];
  deps: Dependencies;
  /** Why not ok: "no such file or directory (waiting for it)", a syntax problem, ... */
  reason?: string;
  /** A glob (or directory) that named more than the cap: how many were seen, what was kept. */
  truncated?: { seen: number; limit: number };
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const { ENOENT } = os.constants.errno;

/**
 * Each path's file, opened inside the root. With `dir` (the in-root path of
 * the directory they all are direct entries of, symlinks resolved), the
 * directory is resolved once and each entry costs one fstatat unless it is a
 * symlink: a glob's level or a watched directory, thousands per reconcile.
 */
function statAll(root: string, paths: string[], dir?: string): (InRootFile | { errno: number; message: string })[] {
  if (paths.length === 0) return [];
  const names = dir === undefined ? paths : paths.map((p) => p.slice(p.lastIndexOf('/') + 1));
  return native()
    .statInRoot(root, names, dir)
    .map((r, i) => (r.errno !== undefined ? r : { path: paths[i], ino: r.ino, dev: kernelDev({ major: r.major, minor: r.minor }), mode: r.mode }));
}

/** Code-unit order of names, as every listing here is sorted (a resolution's files in a stable order). */
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Whether a resolved file is a directory. */
export const isDir = (f: Pick<InRootFile, 'mode'>) => (f.mode & S_IFMT) === S_IFDIR;


/** A glob's static directory (before its first dynamic segment), where that segment is, and every segment. */
export function globSegments(pattern: string): { base: string; dynamicAt: number; segments: string[] } {
  const segments = pattern.split('/').filter(Boolean);
  let i = 0;
  while (i < segments.length && !fg.isDynamicPattern(segments[i])) i++;
  return { base: `/${segments.slice(0, i).join('/')}`, dynamicAt: i, segments };
}

/**
 * A glob's matches under `dir` (the in-root path of its static base, symlinks
 * already resolved there: fast-glob itself would follow them on the host),
 * `rest` relative to it; sorted, each with whether it is a symlink (from the
 * directory entry: no lstat per match).
 */
function globSync(root: string, dir: string, rest: string, onlyDirectories: boolean): { rel: string; symlink: boolean }[] {
  return fg
    .sync(rest, { cwd: hostPath(root, dir), dot: true, followSymbolicLinks: false, onlyFiles: false, onlyDirectories, suppressErrors: true, unique: true, objectMode: true })
    .map((m) => ({ rel: m.path, symlink: m.dirent.isSymbolicLink() }))
    .sort((a, b) => byName(a.rel, b.rel));
}

/**
 * What `dir/*` matches (dot files too, as globSync): every entry, sorted.
 * The common glob ("every file in this directory") skips fast-glob's set-up
 * per call, which cost more than the readdir itself at node scale.
 */
function everyEntry(root: string, dir: string): { rel: string; symlink: boolean }[] {
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(hostPath(root, dir), { withFileTypes: true });
  } catch {
    return []; // as globSync's suppressErrors: the traversal above already said why, if it matters
  }
  return names.map((d) => ({ rel: d.name, symlink: d.isSymbolicLink() })).sort((a, b) => byName(a.rel, b.rel));
}

const under = (dir: string, rel: string) => (dir === '/' ? `/${rel}` : `${dir}/${rel}`);

function resolveGlob(root: string, pattern: string, limit: number): PatternResolution {
  const deps: Dependencies = new Map();
  const { base, dynamicAt, segments } = globSegments(pattern);
  // the static base must keep resolving; each directory level the glob walks
  // is listened to as a whole, so a new match at any level is seen
  const t = traverse(root, base, deps);
  const res: PatternResolution = { pattern, state: 'ok', files: [], deps };
  if (!t.final) {
    res.state = t.error ? 'error' : 'pending';
    res.reason = t.error ?? 'no such file or directory (watched when it appears)';
    return res;
  }
  addDep(deps, t.final, ANY_NAME);
  for (let k = dynamicAt + 1; k < segments.length; k++) {
    for (const d of globSync(root, t.final, segments.slice(dynamicAt, k).join('/'), true).slice(0, limit)) addDep(deps, under(t.final, d.rel), ANY_NAME);
  }
  // a glob dynamic in its last segment only matches entries of its (resolved) base
  const inBase = dynamicAt === segments.length - 1 && !segments[dynamicAt].includes('**') ? t.final : undefined;
  // matches are named under the base as written, found (and opened) under the resolved one
  const found = inBase !== undefined && segments[dynamicAt] === '*' ? everyEntry(root, inBase) : globSync(root, t.final, segments.slice(dynamicAt).join('/'), false);
  let matches = found.map((m) => ({ path: under(base, m.rel), symlink: m.symlink }));
  if (matches.length > limit) {
    res.truncated = { seen: matches.length, limit };
    matches = matches.slice(0, limit);
  }
  statAll(
    root,
    matches.map((m) => m.path),
    inBase,
  ).forEach((f, i) => {
    if ('errno' in f) return; // vanished between the match and the open, or leads out of nothing
    res.files.push(f);
    if (matches[i].symlink) traverse(root, matches[i].path, deps);
  });
  if (res.files.length === 0) {
    res.state = 'pending';
    res.reason = 'no match yet (watched when one appears)';
  }
  return res;
}

function resolvePath(root: string, pattern: string, limit: number): PatternResolution {
  const deps: Dependencies = new Map();
  const t = traverse(root, pattern, deps);
  const res: PatternResolution = { pattern, state: 'ok', files: [], deps };
  const [f] = statAll(root, [pattern]);
  if ('errno' in f) {
    if (f.errno === ENOENT) {
      res.state = 'pending';
      res.reason = 'no such file or directory (watched when it appears)';
    } else {
      res.state = 'error';
      res.reason = t.error ?? f.message;
    }
    return res;
  }
  res.files.push(f);
  if (!isDir(f) || !t.final) return res;
  // a directory: itself and the files directly in it
  addDep(deps, t.final, ANY_NAME);
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(hostPath(root, t.final), { withFileTypes: true }).sort((a, b) => byName(a.name, b.name));
  } catch (e) {
    res.state = 'error';
    res.reason = `cannot list directory: ${(e as Error).message}`;
    return res;
  }
  const paths = names.map((n) => (pattern.endsWith('/') ? pattern + n.name : `${pattern}/${n.name}`));
  const entries = statAll(root, paths, t.final);
  let kept = 0;
  entries.forEach((e, i) => {
    if ('errno' in e || isDir(e)) return;
    if (kept++ >= limit) return;
    res.files.push(e);
    if (names[i].isSymbolicLink()) traverse(root, paths[i], deps);
  });
  if (kept > limit) res.truncated = { seen: kept, limit };
  return res;
}

/** Resolves `pattern` in `root` now. Never throws: problems are states. */
export function resolvePattern(root: string, pattern: string, opts: { maxMatches?: number } = {}): PatternResolution {
  const limit = opts.maxMatches ?? DEFAULT_MAX_MATCHES;
  const bad = checkContainerPath(pattern);
  if (bad) return { pattern, state: 'invalid', files: [], deps: new Map(), reason: bad };
  try {
    return fg.isDynamicPattern(pattern) ? resolveGlob(root, pattern, limit) : resolvePath(root, pattern, limit);
  } catch (e) {
    // e.g. the root itself is gone (the container exited)
    return { pattern, state: 'error', files: [], deps: new Map(), reason: (e as Error).message };
  }
}
