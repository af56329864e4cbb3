// Host paths (for `hive trace` without Kubernetes) -> the inodes to watch.
// A path names an inode: symlinks on the command line are followed to the file
// they name, and hard links need nothing (the inode is the same). A directory
// watches itself and the entries directly inside it (not recursively, and
// without following symlinks inside it): that is what "watch /root/.ssh" means
// to a user. Files created later in it are not watched.
import fs from 'node:fs';
import path from 'node:path';
import { kernelDevFromStat } from '../sys/devnum';

export interface ResolvedPath {
  /** The path as the user gave it, or the directory entry it expanded to. */
  path: string;
  ino: bigint;
  /** Kernel encoding. */
  dev: number;
  type: 'file' | 'directory' | 'symlink-target' | 'other';
  /** The path the user named, when this entry came from expanding a directory. */
  from?: string;
}

export interface PathProblem {
  path: string;
  reason: string;
}

/** Syntax check: absolute, no NUL, not empty. */
export function checkPathSyntax(p: string): string | null {
  if (p === '') return 'empty path';
  if (p.includes('\0')) return 'path contains a NUL byte';
  if (!path.isAbsolute(p)) return 'relative path: paths must be absolute (start with /)';
  return null;
}

function statReason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return e.message;
  }
}

function typeOf(st: fs.BigIntStats): ResolvedPath['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  return 'other';
}

export function resolveHostPaths(paths: string[]): { resolved: ResolvedPath[]; problems: PathProblem[] } {
  const resolved: ResolvedPath[] = [];
  const problems: PathProblem[] = [];
  for (const p of paths) {
    const bad = checkPathSyntax(p);
    if (bad) {
      problems.push({ path: p, reason: bad });
      continue;
    }
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(p, { bigint: true });
    } catch (e) {
      problems.push({ path: p, reason: statReason(e as NodeJS.ErrnoException) });
      continue;
    }
    resolved.push({ path: p, ino: st.ino, dev: kernelDevFromStat(st.dev), type: typeOf(st) });
    if (!st.isDirectory()) continue;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(p, { withFileTypes: true });
    } catch (e) {
      problems.push({ path: p, reason: `cannot list directory: ${statReason(e as NodeJS.ErrnoException)}` });
      continue;
    }
    for (const d of entries) {
      if (d.isSymbolicLink() || d.isDirectory()) continue;
      const child = path.join(p, d.name);
      try {
        const cst = fs.lstatSync(child, { bigint: true });
        resolved.push({ path: child, ino: cst.ino, dev: kernelDevFromStat(cst.dev), type: typeOf(cst), from: p });
      } catch (e) {
        problems.push({ path: child, reason: statReason(e as NodeJS.ErrnoException) });
      }
    }
  }
  return { resolved, problems };
}
