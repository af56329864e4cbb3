// Container init pids as the runtime last gave them, asked again only when the
// process is gone. A reconcile of every trace asks the same container's pid
// once per trace selecting its pod: at node scale (100 traces, 110 pods) that
// was 11,000 runtime calls for 110 containers, and most of a full reconcile's
// wall time was spent waiting on them. A pid is reused only while
// /proc/<pid>/stat shows the same process (its start time, field 22): a
// container that exited, or a pid taken by another process, is asked again.
// Concurrent asks for one container share one call; "not running" and failures
// are never kept; a task start forgets what was known of its container.
// The stat file of a kept pid stays open and is read again at offset 0: one
// pread per check instead of open, fstat, read and close (the checks were
// 0.7 s of a full reconcile at node scale), and an open /proc file keeps
// naming its process: once that one is gone the read fails, even if the pid
// number is reused.
import fs from 'node:fs';
import { STAT, readStat, statFields } from '../sys/proc-stat';

export const RECENT_PID_TTL_MS = 10_000;
const MAX_KEPT = 4096;
/** Stat files kept open at most (beyond: read by path, as before). */
const MAX_OPEN = 256;
const STAT_BYTES = 1024;

/** The start time in a /proc/<pid>/stat text. */
function startOf(stat: string): string | undefined {
  return statFields(stat)[STAT.starttime];
}

/** The start time (clock ticks after boot) of a process, or undefined when there is none. */
export function processStart(hostProc: string, pid: number): string | undefined {
  return readStat(hostProc, pid)?.[STAT.starttime];
}

interface Kept {
  pid: number;
  start: string;
  at: number;
  /** Its stat file, open (absent: past MAX_OPEN, or it could not be opened). */
  fd?: number;
}

export class RecentPids {
  private readonly known = new Map<string, Kept>();
  private readonly buf = Buffer.alloc(STAT_BYTES);
  private open = 0;
  private readonly asking = new Map<string, Promise<number | null>>();

  constructor(
    private readonly ask: (containerId: string) => Promise<number | null>,
    private readonly hostProc: string,
    private readonly ttlMs = RECENT_PID_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  pid(containerId: string): Promise<number | null> {
    const k = this.known.get(containerId);
    if (k && this.now() - k.at < this.ttlMs && this.startNow(k) === k.start) return Promise.resolve(k.pid);
    let p = this.asking.get(containerId);
    if (!p) {
      p = this.ask(containerId).then(
        (pid) => {
          this.asking.delete(containerId);
          this.drop(containerId);
          if (pid) this.keep(containerId, pid);
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
    this.drop(containerId);
  }

  /** Closes every kept stat file. */
  close(): void {
    for (const id of [...this.known.keys()]) this.drop(id);
  }

  /** The kept process's start time now (undefined: it is gone). */
  private startNow(k: Kept): string | undefined {
    if (k.fd === undefined) return processStart(this.hostProc, k.pid);
    try {
      const n = fs.readSync(k.fd, this.buf, 0, STAT_BYTES, 0);
      return startOf(this.buf.toString('latin1', 0, n));
    } catch {
      return undefined; // ESRCH: the process it named is gone
    }
  }

  /** Keeps `pid` with its start time, read through its stat file kept open (by path past MAX_OPEN); a pid already gone is not kept. */
  private keep(containerId: string, pid: number): void {
    const v: Kept = { pid, start: '', at: this.now() };
    if (this.open < MAX_OPEN) {
      try {
        v.fd = fs.openSync(`${this.hostProc}/${pid}/stat`, 'r');
        this.open++;
      } catch {
        // gone already, or no descriptor to spare: read by path below
      }
    }
    const start = this.startNow(v);
    if (start === undefined) return this.close1(v);
    v.start = start;
    this.known.set(containerId, v);
    if (this.known.size > MAX_KEPT) this.drop(this.known.keys().next().value as string);
  }

  private drop(containerId: string): void {
    const k = this.known.get(containerId);
    if (!k) return;
    this.known.delete(containerId);
    this.close1(k);
  }

  private close1(k: Kept): void {
    if (k.fd === undefined) return;
    fs.closeSync(k.fd);
    k.fd = undefined;
    this.open--;
  }
}
