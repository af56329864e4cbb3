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
import { STAT, readStat } from '../sys/proc-stat';
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

/** PF_KTHREAD in /proc/<pid>/stat's flags: a kernel thread, which no process can become. */
const PF_KTHREAD = 0x00200000;

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

/** Whether `<hostProc>/2` is the kernel's kthreadd: a kernel thread (a flag no process can set) whose parent is pid 0. */
function isKthreadd(hostProc: string): boolean {
  const fields = readStat(hostProc, 2);
  return fields !== undefined && fields[STAT.ppid] === '0' && (Number(fields[STAT.flags]) & PF_KTHREAD) !== 0;
}

/**
 * `<hostProc>/1`, or where pid 1's namespace links cannot be read (EACCES: a
 * pid 1 that is not dumpable, as some sandboxes' are) the kernel's kthreadd,
 * pid 2, whose mount namespace and root are the initial ones: the directory
 * whose `ns/mnt` and `root` are the host's. Never a process found by a name:
 * any process can name itself kubelet (SECURITY-REVIEW H1).
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
  return isKthreadd(hostProc) ? path.join(hostProc, '2') : one;
}

/** The inode number of the host's mount namespace: `ns/mnt` of hostProcessDir() reads `mnt:[NNN]`. */
export function hostMountNs(hostProc: string): number {
  const dir = hostProcessDir(hostProc);
  try {
    return mountNsOf(dir);
  } catch (e) {
    if (dir === path.join(hostProc, '1') && /: (EACCES|EPERM):/.test(errorMessage(e))) throw new HiveError(`${errorMessage(e)}, and pid 2 is not the kernel's kthreadd to read it from`);
    throw e;
  }
}

/** Whether a `/proc/<pid>/cgroup` text puts the process in a pod's cgroup (the kubelet names them kubepods, with either cgroup driver). */
export function inPodCgroup(cgroupText: string): boolean {
  return cgroupText.split('\n').some((l) => /(^|[/:])kubepods([./]|$)/.test(l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1)));
}

/** Whether `comm` is one of `patterns` (exact, or a prefix before a trailing '*'). */
export function commMatches(comm: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? comm.startsWith(p.slice(0, -1)) : comm === p));
}

/** A process whose comm matched but that is not the node's own (a workload can name itself anything). */
export interface RefusedProcess {
  pid: number;
  comm: string;
  reason: string;
}

/**
 * The exempt executables: `paths` resolved inside the host's root
 * (hostProcessDir()'s, confined to it as the resolver confines container
 * paths, so an absolute symlink means the host's file), missing ones skipped
 * with the reason; and the executables of running processes whose comm
 * matches `comms` (whatever host path they were started from) — only those
 * proven the node's own: in the host's mount namespace, in no pod's cgroup,
 * and running the file their exe link names in the host's root. A comm is
 * only a hint: any process can set its own. One entry per file (inode, dev).
 */
export function exemptExecutables(
  hostProc: string,
  paths: readonly string[] = DEFAULT_EXEMPT_EXES,
  comms: readonly string[] = DEFAULT_EXEMPT_COMMS,
): { executables: ExemptExecutable[]; skipped: SkippedExecutable[]; refused: RefusedProcess[] } {
  const found = new Map<string, ExemptExecutable>();
  const skipped: SkippedExecutable[] = [];
  const refused: RefusedProcess[] = [];
  const add = (e: Omit<ExemptExecutable, 'pids'>, pid?: number) => {
    const k = `${e.dev}:${e.ino}`;
    const had = found.get(k) ?? { ...e, pids: [] };
    if (pid !== undefined) had.pids.push(pid);
    found.set(k, had);
  };
  const bad = paths.filter((p) => !path.isAbsolute(p) || p.includes('\0'));
  if (bad.length) throw new HiveError(`exempt executables: paths must be absolute host paths, got ${bad.map((p) => `'${p}'`).join(', ')}`);
  const hostDir = hostProcessDir(hostProc);
  const root = path.join(hostDir, 'root');
  const statHost = (files: string[]) => {
    try {
      return native().statInRoot(root, files);
    } catch (e) {
      throw new HiveError(`exempt executables: cannot open the host's root ${root}: ${errorMessage(e)}`);
    }
  };
  if (paths.length) {
    statHost([...paths]).forEach((r, i) => {
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
  let hostNs: string | undefined;
  try {
    hostNs = `mnt:[${mountNsOf(hostDir)}]`;
  } catch (e) {
    // without the host's namespace no process can be proven the node's: the paths alone count
    skipped.push({ path: path.join(hostDir, 'ns/mnt'), reason: `running processes not considered: ${errorMessage(e)}` });
  }
  // processes in the host's namespace and no pod's cgroup, their exe checked against the host's root in one call
  const candidates: { pid: string; comm: string; target: string; ino: bigint; dev: number }[] = [];
  for (const pid of hostNs ? pids : []) {
    const dir = path.join(hostProc, pid);
    let comm: string;
    let ns: string;
    let cgroup: string;
    let target: string;
    let st: fs.BigIntStats;
    try {
      comm = fs.readFileSync(path.join(dir, 'comm'), 'utf8').replace(/\n$/, '');
      if (!commMatches(comm, comms)) continue;
      ns = fs.readlinkSync(path.join(dir, 'ns/mnt'));
      cgroup = fs.readFileSync(path.join(dir, 'cgroup'), 'utf8');
      // stat follows the magic link to the file the kernel runs, on its own device
      st = fs.statSync(path.join(dir, 'exe'), { bigint: true });
      target = fs.readlinkSync(path.join(dir, 'exe'));
    } catch {
      continue; // exited meanwhile, not a process, or not readable: not proven the node's
    }
    const refuse = (reason: string) => refused.push({ pid: Number(pid), comm, reason });
    if (ns !== hostNs) {
      refuse(`not in the host's mount namespace (${ns})`);
      continue;
    }
    if (inPodCgroup(cgroup)) {
      refuse("in a pod's cgroup");
      continue;
    }
    candidates.push({ pid, comm, target, ino: st.ino, dev: kernelDevFromStat(st.dev) });
  }
  const absolute = candidates.filter((c) => path.isAbsolute(c.target));
  const inRoot = absolute.length ? statHost(absolute.map((c) => c.target)) : [];
  for (const c of candidates) {
    const i = absolute.indexOf(c);
    const r = i >= 0 ? inRoot[i] : undefined;
    if (!r || r.errno !== undefined || r.ino !== c.ino || kernelDev({ major: r.major, minor: r.minor }) !== c.dev) {
      refused.push({ pid: Number(c.pid), comm: c.comm, reason: `its executable is not the host's file at ${JSON.stringify(c.target)}` });
      continue;
    }
    add({ path: c.target, ino: c.ino, dev: c.dev, from: 'process' }, Number(c.pid));
  }
  return { executables: [...found.values()], skipped, refused };
}
