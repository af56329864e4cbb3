// What enforcement must never stop on a node (issue 16, "safe by design"):
// the host's own mount namespace, and the executables of the node's kubelet
// and container runtime wherever they run. A deny on a file the runtime
// touches (a shim reading a container's config, runc setting up a mount)
// must not break the node. Computed from the host's /proc; the monitor puts
// the answers in the kernel (FileAccessOptions.exemptMountNs,
// setExemptExecutables).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InodeRef } from '../fileaccess/monitor';
import { native } from '../sys/addon';
import { kernelDev, kernelDevFromStat } from '../sys/devnum';
import { HiveError, errorMessage } from '../util/errors';

/** Where the kubelet and the container runtime are commonly installed on a host. */
export const DEFAULT_EXEMPT_EXES: readonly string[] = [
  '/usr/bin/kubelet',
  '/usr/local/bin/kubelet',
  '/usr/bin/containerd',
  '/usr/local/bin/containerd',
  '/usr/bin/containerd-shim-runc-v2',
  '/usr/local/bin/containerd-shim-runc-v2',
  '/usr/sbin/runc',
  '/usr/bin/runc',
  '/usr/local/sbin/runc',
  '/usr/local/bin/runc',
  '/usr/bin/crio',
  '/usr/bin/conmon',
];

/**
 * Running processes whose executable is exempt, by comm (the kernel keeps 15
 * characters: containerd-shim-runc-v2 is "containerd-shim"). A trailing '*'
 * matches any comm that starts with the rest.
 */
export const DEFAULT_EXEMPT_COMMS: readonly string[] = ['kubelet', 'containerd', 'containerd-shim*', 'runc', 'crio', 'conmon'];

export interface ExemptExecutable extends InodeRef {
  /** The host path it was found at, or the process's exe link target. */
  path: string;
  /** Found at one of the given paths, or as the executable of running processes. */
  from: 'path' | 'process';
  /** The processes (host pids) that run it, when found by comm. */
  pids: number[];
}

export interface SkippedExecutable {
  path: string;
  reason: string;
}

/** Comms of processes that run in the host's mount namespace on a node: the runtime and the kubelet. */
const HOST_NS_COMMS: readonly string[] = ['containerd', 'kubelet', 'crio'];

/** `<dir>/ns/mnt` as a mount namespace inode number. */
function mountNsOf(dir: string): number {
  const link = path.join(dir, 'ns/mnt');
  let text: string;
  try {
    text = fs.readlinkSync(link);
  } catch (e) {
    throw new HiveError(`host mount namespace: cannot read ${link}: ${errorMessage(e)}`);
  }
  const m = /^mnt:\[(\d+)\]$/.exec(text);
  const inum = m ? Number(m[1]) : NaN;
  if (!m || inum < 1 || inum > 0xffffffff) throw new HiveError(`host mount namespace: ${link} must read mnt:[NUMBER] (a 32-bit inode number), got '${text}'`);
  return inum;
}

/**
 * `<hostProc>/1`, or where pid 1's namespace links cannot be read (EACCES: a
 * pid 1 that is not dumpable, as some sandboxes' are) a running containerd,
 * kubelet or crio's, which run in the host's namespaces: the directory whose
 * `ns/mnt` and `root` are the host's.
 */
export function hostProcessDir(hostProc: string): string {
  const one = path.join(hostProc, '1');
  try {
    fs.readlinkSync(path.join(one, 'ns/mnt'));
    return one;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') return one; // the caller's read says what is wrong
  }
  let pids: string[] = [];
  try {
    pids = fs.readdirSync(hostProc).filter((n) => /^\d+$/.test(n));
  } catch {
    return one;
  }
  for (const pid of pids) {
    const dir = path.join(hostProc, pid);
    try {
      if (!HOST_NS_COMMS.includes(fs.readFileSync(path.join(dir, 'comm'), 'utf8').replace(/\n$/, ''))) continue;
      fs.readlinkSync(path.join(dir, 'ns/mnt'));
      return dir;
    } catch {
      // exited meanwhile, or not readable either: another one may do
    }
  }
  return one;
}

/** The inode number of the host's mount namespace: `ns/mnt` of hostProcessDir() reads `mnt:[NNN]`. */
export function hostMountNs(hostProc: string): number {
  const dir = hostProcessDir(hostProc);
  try {
    return mountNsOf(dir);
  } catch (e) {
    if (dir === path.join(hostProc, '1') && /: (EACCES|EPERM):/.test(errorMessage(e))) throw new HiveError(`${errorMessage(e)}, and no running ${HOST_NS_COMMS.join(', ')} to read it from`);
    throw e;
  }
}

/** Whether `comm` is one of `patterns` (exact, or a prefix before a trailing '*'). */
export function commMatches(comm: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? comm.startsWith(p.slice(0, -1)) : comm === p));
}

/**
 * The exempt executables: `paths` resolved inside the host's root
 * (`<hostProc>/1/root` or hostProcessDir()'s, confined to it as the resolver confines container
 * paths, so an absolute symlink means the host's file), missing ones
 * skipped with the reason; and the executables of running host processes
 * whose comm matches `comms` (`<hostProc>/<pid>/exe`, whatever path they were
 * started from). One entry per file (inode, dev).
 */
export function exemptExecutables(
  hostProc: string,
  paths: readonly string[] = DEFAULT_EXEMPT_EXES,
  comms: readonly string[] = DEFAULT_EXEMPT_COMMS,
): { executables: ExemptExecutable[]; skipped: SkippedExecutable[] } {
  const found = new Map<string, ExemptExecutable>();
  const skipped: SkippedExecutable[] = [];
  const add = (e: Omit<ExemptExecutable, 'pids'>, pid?: number) => {
    const k = `${e.dev}:${e.ino}`;
    const had = found.get(k) ?? { ...e, pids: [] };
    if (pid !== undefined) had.pids.push(pid);
    found.set(k, had);
  };

  const bad = paths.filter((p) => !path.isAbsolute(p) || p.includes('\0'));
  if (bad.length) throw new HiveError(`exempt executables: paths must be absolute host paths, got ${bad.map((p) => `'${p}'`).join(', ')}`);
  const root = path.join(hostProcessDir(hostProc), 'root');
  if (paths.length) {
    let stats;
    try {
      stats = native().statInRoot(root, [...paths]);
    } catch (e) {
      throw new HiveError(`exempt executables: cannot open the host's root ${root}: ${errorMessage(e)}`);
    }
    stats.forEach((r, i) => {
      if (r.errno !== undefined) skipped.push({ path: paths[i], reason: r.errno === os.constants.errno.ENOENT ? 'no such file' : r.message });
      else if ((r.mode & 0o170000) !== 0o100000) skipped.push({ path: paths[i], reason: 'not a regular file' });
      else add({ path: paths[i], ino: r.ino, dev: kernelDev({ major: r.major, minor: r.minor }), from: 'path' });
    });
  }

  let pids: string[] = [];
  try {
    pids = fs.readdirSync(hostProc).filter((n) => /^\d+$/.test(n));
  } catch (e) {
    throw new HiveError(`exempt executables: cannot list ${hostProc}: ${errorMessage(e)}`);
  }
  for (const pid of pids) {
    let comm: string;
    try {
      comm = fs.readFileSync(path.join(hostProc, pid, 'comm'), 'utf8').replace(/\n$/, '');
    } catch {
      continue; // exited meanwhile, or not a process
    }
    if (!commMatches(comm, comms)) continue;
    const exe = path.join(hostProc, pid, 'exe');
    try {
      // stat follows the magic link to the file the kernel runs, on its own device
      const st = fs.statSync(exe, { bigint: true });
      let target = exe;
      try {
        target = fs.readlinkSync(exe);
      } catch {
        // the identity is what matters; the name is for the log
      }
      add({ path: target, ino: st.ino, dev: kernelDevFromStat(st.dev), from: 'process' }, Number(pid));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // exited meanwhile
      skipped.push({ path: exe, reason: `${comm}: ${errorMessage(e)}` });
    }
  }
  return { executables: [...found.values()], skipped };
}
