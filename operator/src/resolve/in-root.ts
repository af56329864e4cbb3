// Paths and globs inside a container's root -> the inodes to watch, resolved
// the way the container itself would see them. The root is the host's view of
// the container's root directory (/host/proc/<pid>/root). Globs are expanded
// with fast-glob without following symlinks; then every match, and every
// plain path, is opened again with openat2(RESOLVE_IN_ROOT) by the addon, so a
// symlink such as /etc/shadow -> /../../host/etc/shadow resolves inside the
// container and can never select a host file.
import os from 'node:os';
import fg from 'fast-glob';
import { native } from '../sys/addon';
import { kernelDev } from '../sys/devnum';
import { checkPathSyntax } from './host-paths';

export const DEFAULT_MAX_MATCHES = 1024;

export interface InRootFile {
  /** The path inside the container. */
  path: string;
  ino: bigint;
  /** Kernel encoding, major << 20 | minor. */
  dev: number;
  mode: number;
}

export interface Resolution {
  /** The path or glob as given. */
  pattern: string;
  files: InRootFile[];
  /** "ok" | "not found" (a state, not an error) | "invalid" | "error" */
  state: 'ok' | 'not found' | 'invalid' | 'error';
  reason?: string;
  /** Set when a glob matched more than the limit: only the first `limit` are watched. */
  truncated?: { limit: number };
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

function toFile(path: string, r: ReturnType<ReturnType<typeof native>['statInRoot']>[number]): InRootFile | { errno: number; message: string } {
  if (r.errno !== undefined) return r;
  return { path, ino: r.ino, dev: kernelDev({ major: r.major, minor: r.minor }), mode: r.mode };
}

/** fast-glob's matches, stopping after limit + 1 (to know it was cut). */
async function globMatches(root: string, pattern: string, limit: number): Promise<string[]> {
  const out: string[] = [];
  const stream = fg.stream(pattern.slice(1), {
    cwd: root,
    dot: true,
    followSymbolicLinks: false,
    onlyFiles: false,
    suppressErrors: true,
    unique: true,
  });
  for await (const m of stream) {
    out.push(`/${m.toString()}`);
    if (out.length > limit) break;
  }
  return out.sort();
}

export async function resolveInRoot(
  root: string,
  patterns: string[],
  opts: { maxMatches?: number } = {},
): Promise<Resolution[]> {
  const limit = opts.maxMatches ?? DEFAULT_MAX_MATCHES;
  const results: Resolution[] = [];
  for (const pattern of patterns) {
    const bad = checkContainerPath(pattern);
    if (bad) {
      results.push({ pattern, files: [], state: 'invalid', reason: bad });
      continue;
    }
    try {
      if (!fg.isDynamicPattern(pattern)) {
        const [r] = native().statInRoot(root, [pattern]);
        const f = toFile(pattern, r);
        if ('errno' in f) {
          results.push(
            f.errno === os.constants.errno.ENOENT
              ? { pattern, files: [], state: 'not found' }
              : { pattern, files: [], state: 'error', reason: f.message },
          );
        } else results.push({ pattern, files: [f], state: 'ok' });
        continue;
      }
      let matches = await globMatches(root, pattern, limit);
      const res: Resolution = { pattern, files: [], state: 'ok' };
      if (matches.length > limit) {
        matches = matches.slice(0, limit);
        res.truncated = { limit };
      }
      const stats = native().statInRoot(root, matches);
      matches.forEach((m, i) => {
        const f = toFile(m, stats[i]);
        if (!('errno' in f)) res.files.push(f);
      });
      if (res.files.length === 0) res.state = 'not found';
      results.push(res);
    } catch (e) {
      results.push({ pattern, files: [], state: 'error', reason: (e as Error).message });
    }
  }
  return results;
}
