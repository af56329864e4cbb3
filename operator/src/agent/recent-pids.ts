// Container init pids as the runtime last gave them, asked again only when the
// process is gone. A reconcile of every trace asks the same container's pid
// once per trace selecting its pod: at node scale (100 traces, 110 pods) that
// was 11,000 runtime calls for 110 containers, and most of a full reconcile's
// wall time was spent waiting on them. A pid is reused only while
// /proc/<pid>/stat shows the same process (its start time, field 22): a
// container that exited, or a pid taken by another process, is asked again.
// Concurrent asks for one container share one call; "not running" and failures
// are never kept; a task start forgets what was known of its container.
import fs from 'node:fs';

export const RECENT_PID_TTL_MS = 10_000;
const MAX_KEPT = 4096;

/** The start time (clock ticks after boot) of a process, or undefined when there is none. */
export function processStart(hostProc: string, pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`${hostProc}/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm, in parentheses, may hold spaces and parentheses: the fields follow the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19]; // field 22 of the line, the 20th after comm
}

export class RecentPids {
  private readonly known = new Map<string, { pid: number; start: string; at: number }>();
  private readonly asking = new Map<string, Promise<number | null>>();

  constructor(
    private readonly ask: (containerId: string) => Promise<number | null>,
    private readonly hostProc: string,
    private readonly ttlMs = RECENT_PID_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  pid(containerId: string): Promise<number | null> {
    const k = this.known.get(containerId);
    if (k && this.now() - k.at < this.ttlMs && processStart(this.hostProc, k.pid) === k.start) return Promise.resolve(k.pid);
    let p = this.asking.get(containerId);
    if (!p) {
      p = this.ask(containerId).then(
        (pid) => {
          this.asking.delete(containerId);
          const start = pid ? processStart(this.hostProc, pid) : undefined;
          if (pid && start !== undefined) this.keep(containerId, { pid, start, at: this.now() });
          else this.known.delete(containerId);
          return pid;
        },
        (e: unknown) => {
          this.asking.delete(containerId);
          throw e;
        },
      );
      this.asking.set(containerId, p);
    }
    return p;
  }

  /** A task of the container started (or the runtime said so): ask again. */
  forget(containerId: string): void {
    this.known.delete(containerId);
  }

  private keep(containerId: string, v: { pid: number; start: string; at: number }): void {
    this.known.delete(containerId);
    this.known.set(containerId, v);
    if (this.known.size > MAX_KEPT) this.known.delete(this.known.keys().next().value as string);
  }
}
