// What is acceptable as a path inside a root, and what a file found there is.
// Resolution itself is pattern.ts: globs expanded with fast-glob without
// following symlinks, then every match and every plain path opened again with
// openat2(RESOLVE_IN_ROOT) by the addon, so a symlink such as
// /etc/shadow -> /../../host/etc/shadow resolves inside the container and can
// never select a host file.
import path from 'node:path';

export const DEFAULT_MAX_MATCHES = 1024;

export interface InRootFile {
  /** The path inside the container. */
  path: string;
  ino: bigint;
  /** Kernel encoding, major << 20 | minor. */
  dev: number;
  mode: number;
}

/** Syntax check: absolute, no NUL, not empty. */
export function checkPathSyntax(p: string): string | null {
  if (p === '') return 'empty path';
  if (p.includes('\0')) return 'path contains a NUL byte';
  if (!path.isAbsolute(p)) return 'relative path: paths must be absolute (start with /)';
  return null;
}

/** Why a container path is unacceptable, or null: the host rules, and no
 * '..' (it would mean nothing under RESOLVE_IN_ROOT but confuse readers). Globs
 * follow the same rules. */
export function checkContainerPath(p: string): string | null {
  const bad = checkPathSyntax(p);
  if (bad) return bad;
  if (p.split('/').includes('..')) return "path contains a '..' component";
  return null;
}
