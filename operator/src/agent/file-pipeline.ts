// File events from the kernel to stdout: each ring record is enriched for
// every owner of its watch (trace, pod, container, path; node), narrowed to the
// access that owner asked for, passed through the trace's rate limit, counted
// (metrics, the per-trace counters and the access inventory that status
// reports; both count every access, what a rate limit held back included) and written.
//
// Lines are written from the ring record straight into the writer's bytes
// (fileaccess/record-line.ts), with what an owner's events share encoded once.
// A record object is built only where something needs one: a record the
// rateLimit holds back (each file's summary is written as the last of them),
// a read the correlator wants, or a writer that renders (--pretty).
import { ACCESS, FILE_EVENT, FileRecords, VERDICT, VERDICT_CODE, accessNames, decodeFileEvent, recordCount, recordTs } from '../fileaccess/layout';
import { cString } from '../bpf/records';
import type { Lineage } from '../bpf/proc-record';
import type { Owner } from '../fileaccess/watch-registry';
import { WatchRegistry } from '../fileaccess/watch-registry';
import { FileEventRecord, toRecord } from '../fileaccess/file-event';
import { FileLineEncoder, OwnerLine, accessorBytes, lineageBytes, ownerLine } from '../fileaccess/record-line';
import type { Accessor, Accessors } from './accessors';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { RateLimiter } from '../output/rate-limit';
import { AgentMetrics } from './metrics';
import { Counters } from './status-writer';
import { Inventory, InventoryReport } from './inventory';
import { TraceKey, traceId } from './keys';

/** Sees the records of the traces it wants before the rate limit (the correlator). */
export interface FileTap {
  /** Whether the trace's reads are wanted (asked once per batch and owner). */
  wants(trace: TraceKey): boolean;
  file(rec: FileEventRecord): void;
}

const F = FILE_EVENT.fields;
const ALLOWED = VERDICT_CODE.allowed;
const WOULD_DENY = VERDICT_CODE['would-deny'];

/** Per batch and trace: accesses counted by verdict and access bit, and the last event's time. */
interface Tally {
  events: number;
  lastNs: number;
  /** [verdict * 8 + access mask]: the accesses of records of that verdict and mask. */
  byKind: number[];
}

/** What the pipeline keeps of an owner: its trace's id and line parts, and per batch its limit and tap. */
interface OwnerState {
  id: string;
  /** The trace's number in the rate limiter's keys. */
  index: number;
  line: OwnerLine;
  batch: number;
  limit: number | undefined;
  tapped: boolean;
  tally: Tally | undefined;
}

export class FilePipeline {
  /** Keyed by (trace, process, verdict) as "traceIndex:tgid:verdict"; held records grouped by file and access (watchId * 8 + mask). */
  private readonly limiter: RateLimiter<FileEventRecord, string>;
  private readonly traceIndex = new Map<string, number>();
  private nextIndex = 0;
  private readonly seen = new Map<string, { eventsSeen: number; lastEventTime?: string }>();
  private readonly owners = new WeakMap<Owner, OwnerState>();
  private readonly encoder: FileLineEncoder;
  private batch = 0;
  /** Sees every enriched record its trace wants before the rate limit (the correlator). */
  tap: FileTap | undefined;

  constructor(
    private readonly registry: WatchRegistry,
    private readonly writer: EventWriter,
    private readonly clock: Clock,
    private readonly nodeName: string,
    private readonly metrics: AgentMetrics,
    /** spec.rateLimit of a trace (from the informer's cache). */
    private readonly rateLimit: (trace: TraceKey) => number | undefined,
    /** Who accessed what, per trace (status.nodes[].inventory). */
    readonly inventory: Inventory = new Inventory(),
    /** Who made each access: this pod, another, the node (absent: records say nothing of it). */
    private readonly accessors?: Accessors,
  ) {
    this.limiter = new RateLimiter<FileEventRecord, string>((r) => writer.write(r), Date.now, 250, (last, count, first) => ({ ...last, count, first_time: first.time }));
    this.encoder = new FileLineEncoder(clock);
  }

  private stateOf(o: Owner & { trace: TraceKey }, tallies: Map<string, Tally>): OwnerState {
    let s = this.owners.get(o);
    if (!s) {
      const id = traceId(o.trace);
      let index = this.traceIndex.get(id);
      if (index === undefined) this.traceIndex.set(id, (index = this.nextIndex++));
      s = { id, index, line: ownerLine(this.nodeName, o), batch: -1, limit: undefined, tapped: false, tally: undefined };
      this.owners.set(o, s);
    }
    if (s.batch !== this.batch) {
      // the trace's spec may change between batches, not within one
      s.batch = this.batch;
      s.limit = this.rateLimit(o.trace) || undefined;
      s.tapped = this.tap?.wants(o.trace) ?? false;
      let t = tallies.get(s.id);
      if (!t) tallies.set(s.id, (t = { events: 0, lastNs: 0, byKind: new Array<number>(32).fill(0) }));
      s.tally = t;
    }
    return s;
  }

  handle(records: FileRecords): void {
    this.batch++;
    // counted per batch, not per event: a labelled prom-client inc hashes its
    // labels each time, which at node rates was a tenth of the pipeline
    const tallies = new Map<string, Tally>();
    const { buf, at, lineage } = records;
    const bytes = this.writer.takesBytes;
    for (let k = 0; k < at.length; k++) {
      const r = at[k];
      const access = buf.readUInt32LE(r + F.access.offset);
      const owners = this.registry.owners(buf.readUInt32LE(r + F.watch_id.offset), access);
      if (owners.length === 0) continue;
      const v = buf[r + F.verdict.offset];
      const kernelVerdict = VERDICT[v] !== undefined ? v : ALLOWED; // toRecord's reading of an unknown one
      const count = recordCount(buf, r);
      const l = lineage[k];
      const scopeNs = buf.readUInt32LE(r + F.scope_ns.offset);
      const acc = this.accessors?.of(buf.readUInt32LE(r + F.tgid.offset), l, scopeNs);
      for (const o of owners) {
        if (!o.trace) continue; // every agent owner has one
        const s = this.stateOf(o as Owner & { trace: TraceKey }, tallies);
        // the kernel's would-deny is per inode and scope: an owner without the intent, or
        // whose scope is not the accessor's, only audits
        const verdict = kernelVerdict === WOULD_DENY && (!o.intent || (o.scope !== undefined && o.scope !== scopeNs)) ? ALLOWED : kernelVerdict;
        const ab = acc ? accessorBytes(acc, o) : undefined;
        const mask = access & o.access;
        const read = (mask & ACCESS.read) !== 0 && (verdict === ALLOWED || verdict === WOULD_DENY);
        // the owner is the watch info (path, aliases, trace, pod, container)
        let rec = s.tapped && read ? this.record(buf, r, l, o, mask, verdict, acc) : undefined;
        if (rec) this.tap!.file(rec);
        const key = s.limit === undefined ? '' : `${s.index}:${buf.readUInt32LE(r + F.tgid.offset)}:${verdict}`;
        if (s.limit !== undefined && !this.limiter.admit(key, s.limit)) {
          // held per file and access: a summary never stands for another file's access
          this.limiter.held(key, rec ?? (rec = this.record(buf, r, l, o, mask, verdict, acc)), count, buf.readUInt32LE(r + F.watch_id.offset) * 8 + mask);
        } else if (!bytes) {
          this.writer.write(rec ?? (rec = this.record(buf, r, l, o, mask, verdict, acc)));
        } else {
          const lb = l ? lineageBytes(l) : undefined;
          const out = this.writer.room(FileLineEncoder.max(s.line, lb, ab));
          this.writer.commit(this.encoder.encode(out, this.writer.at, buf, r, s.line, mask, verdict, lb, ab), 1);
        }
        const t = s.tally!;
        t.events += count;
        t.byKind[verdict * 8 + (mask & 7)] += count;
        t.lastNs = recordTs(buf, r);
        if (this.inventory.enabled) {
          // executableOf: the exe, or the comm where the kernel wrote no process record
          const exe = l?.exe || cString(buf, r + F.comm.offset, F.comm.size);
          const uid = buf.readUInt32LE(r + F.uid.offset);
          const who = acc ? inventoryAccessor(acc, o) : undefined;
          for (const a of accessNames(mask)) this.inventory.addAccess(s.id, o, exe, o.path, a, count, this.clock.toIso(t.lastNs), uid, who);
        }
      }
    }
    for (const [id, t] of tallies) {
      const s = this.seen.get(id) ?? { eventsSeen: 0 };
      s.eventsSeen += t.events;
      s.lastEventTime = this.clock.toIso(t.lastNs);
      this.seen.set(id, s);
      for (let kind = 0; kind < t.byKind.length; kind++) {
        const n = t.byKind[kind];
        if (n === 0) continue;
        const verdict = VERDICT[kind >> 3];
        for (const access of accessNames(kind & 7)) this.metrics.events.inc({ trace: id, access, verdict }, n);
      }
    }
  }

  /** The record of one owner, as toRecord builds it, narrowed to its accesses and verdict. */
  private record(buf: Buffer, at: number, lineage: Lineage | undefined, o: Owner, mask: number, verdict: number, acc: Accessor | undefined): FileEventRecord {
    const e = decodeFileEvent(buf, at);
    if (lineage) e.lineage = lineage;
    e.access = mask;
    e.verdict = verdict;
    return toRecord(e, o, this.clock, this.nodeName, acc);
  }

  /** Events seen for a trace since the agent started. */
  counters(trace: TraceKey): Counters | undefined {
    return this.seen.get(traceId(trace));
  }

  /** The trace's access inventory on this node, bounded (undefined: nothing seen, or off). */
  inventoryOf(trace: TraceKey): InventoryReport | undefined {
    return this.inventory.report(traceId(trace));
  }

  /** A deleted trace: its counters, inventory and series go. */
  releaseTrace(trace: TraceKey): void {
    this.seen.delete(traceId(trace));
    this.traceIndex.delete(traceId(trace));
    this.inventory.release(traceId(trace));
    this.metrics.releaseTrace(traceId(trace));
  }

  stop(): void {
    this.limiter.stop();
  }
}

/** An inventory entry's accessor: absent for the watch's own pod, else host, container or pod:<namespace>/<name>. */
function inventoryAccessor(a: Accessor, o: Owner): string | undefined {
  if (a.kind !== 'pod') return a.kind;
  if (a.pod && o.pod && a.pod.uid === o.pod.uid) return undefined;
  return a.pod?.name ? `pod:${a.pod.namespace}/${a.pod.name}` : 'pod:?';
}
