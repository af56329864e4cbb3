// The user-space half of the process cache (bpf/lineage.bpf.h): process
// records by tgid, bounded, and each event's lineage from them. Each monitor
// keeps its own (its object has its own procs_seen map). The kernel writes a
// process's record, and its ancestors', before the process's first event
// (a file access, a TCP connect), and again after an exec; so the newest
// record of a tgid is the process that did it, and a parent is the record of
// (ppid) whose start time the child's record names.
import { Ancestor, LINEAGE_DEPTH, Lineage, LineageSink, RawProcRecord } from './proc-record';

export const DEFAULT_MAX_PROCESSES = 16384;

interface Entry {
  rec: RawProcRecord;
  /** Computed at the first event that asks, then shared by its events. */
  lineage?: Lineage;
}

export class ProcessTable implements LineageSink {
  private readonly byTgid = new Map<number, Entry>();

  constructor(private readonly max = DEFAULT_MAX_PROCESSES) {}

  add(r: RawProcRecord): void {
    // re-inserted: Map order is then the order of last writing, oldest first
    this.byTgid.delete(r.tgid);
    this.byTgid.set(r.tgid, { rec: r });
    if (this.byTgid.size > this.max) {
      const oldest = this.byTgid.keys().next().value as number;
      this.byTgid.delete(oldest);
    }
  }

  get size(): number {
    return this.byTgid.size;
  }

  lineage(tgid: number): Lineage | undefined {
    const e = this.byTgid.get(tgid);
    if (!e) return undefined;
    if (!e.lineage) e.lineage = { exe: e.rec.exe, pidNs: e.rec.pidNs, ancestors: this.ancestors(e.rec) };
      if (e.rec.exeIno) {
        e.lineage.exeIno = e.rec.exeIno;
        e.lineage.exeDev = e.rec.exeDev;
      }
    return e.lineage;
  }

  /** Parent first, up to the pid namespace's init (included), its edge, or LINEAGE_DEPTH. */
  private ancestors(r: RawProcRecord): Ancestor[] {
    const out: Ancestor[] = [];
    let cur = r;
    while (out.length < LINEAGE_DEPTH && cur.nsPid !== 1) {
      const p = this.byTgid.get(cur.ppid)?.rec;
      // a parent gone and its tgid reused is another process: the chain ends;
      // so it does at the pid namespace's edge (a process exec'd into a
      // container has the runtime's shim for a parent)
      if (!p || p.startNs !== cur.parentStartNs || p.pidNs !== r.pidNs) break;
      out.push({ pid: p.tgid, comm: p.comm, exe: p.exe });
      cur = p;
    }
    return out;
  }
}
