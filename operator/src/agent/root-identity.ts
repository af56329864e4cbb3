// `<hostProc>/<pid>/root` names whatever process has that pid now: once a
// container's init exits and its pid is reused (by a host process, or another
// pod's), the same string leads to another root, and re-resolving a trace's
// paths there would watch that filesystem with the trace's action
// (SECURITY-REVIEW M4). Such a root's identity is its pid and the process's
// start time: the watch keeper records it when it resolves a pattern and
// re-resolves only while it is unchanged.
import { processStart } from './recent-pids';

/** "<pid>:<start time>" of a `<proc>/<pid>/root` path, "gone" when that process is not there; undefined for any other root. */
export function procRootIdentity(root: string): string | undefined {
  const m = /^(.*)\/(\d+)\/root$/.exec(root);
  if (!m) return undefined;
  const start = processStart(m[1], Number(m[2]));
  return start ? `${m[2]}:${start}` : 'gone';
}
