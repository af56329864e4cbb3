// A container's kernel identity for scoped enforcement (SECURITY-REVIEW M1):
// the pid namespace of its init, read from <proc>/<pid>/ns/pid. Every task
// of the container is in it, or in a namespace nested under it, and cannot
// leave it; the kernel finds a task's scopes by it (bpf/fileaccess.bpf.c
// scope_of).
import fs from 'node:fs';
import { hostProcessDir } from './exemptions';

/** The inode number of the pid namespace of `pid` (as `<proc>` shows it), undefined when it cannot be read. */
export function pidNamespace(proc: string, pid: number): number | undefined {
  return nsOf(`${proc}/${pid}`);
}

/** The host's pid namespace: pid 1's, or kthreadd's where pid 1's cannot be read (exemptions.ts hostProcessDir). */
export function hostPidNamespace(proc: string): number | undefined {
  return nsOf(hostProcessDir(proc));
}

function nsOf(dir: string): number | undefined {
  try {
    const m = /^pid:\[(\d+)\]$/.exec(fs.readlinkSync(`${dir}/ns/pid`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Why enforcement cannot be scoped to a container whose init is in `ns`, or undefined when it can. */
export function unscopable(ns: number | undefined, hostNs: number | undefined): string | undefined {
  if (ns === undefined) return "its pid namespace cannot be read, so a deny or kill cannot be limited to its tasks: audited only";
  if (hostNs === undefined) return "the host's pid namespace cannot be read, so a deny or kill cannot be limited to the pod's tasks: audited only";
  if (ns === hostNs) return "the pod shares the host's pid namespace (hostPID), so a deny or kill cannot be limited to its tasks: audited only";
  return undefined;
}
