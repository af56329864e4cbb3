// File events from the kernel to stdout: each raw event is enriched for every
// owner of its watch (trace, pod, container, path; node), narrowed to the
// access that owner asked for, passed through the trace's rate limit, counted
// (metrics, the per-trace counters and the access inventory that status
// reports; both count every access, what a rate limit held back included) and written.
import { ACCESS } from '../fileaccess/layout';
import type { RawFileEvent, Verdict } from '../fileaccess/layout';
import { WatchRegistry } from '../fileaccess/watch-registry';
import { FileEventRecord, toRecord } from '../fileaccess/file-event';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { RateLimiter } from '../output/rate-limit';
import { AgentMetrics } from './metrics';
import { Counters } from './status-writer';
import { Inventory, InventoryReport } from './inventory';
import { TraceKey, traceId } from './keys';

export class FilePipeline {
  private readonly limiter: RateLimiter<FileEventRecord>;
  private readonly seen = new Map<string, { eventsSeen: number; lastEventTime?: string }>();
  /** Sees every enriched record before the rate limit (the correlator). */
  tap: ((rec: FileEventRecord) => void) | undefined;

  constructor(
    private readonly registry: WatchRegistry,
    writer: EventWriter,
    private readonly clock: Clock,
    private readonly nodeName: string,
    private readonly metrics: AgentMetrics,
    /** spec.rateLimit of a trace (from the informer's cache). */
    private readonly rateLimit: (trace: TraceKey) => number | undefined,
    /** Who accessed what, per trace (status.nodes[].inventory). */
    readonly inventory: Inventory = new Inventory(),
  ) {
    this.limiter = new RateLimiter<FileEventRecord>((r) => writer.write(r));
  }

  handle(events: RawFileEvent[]): void {
    // counted per batch, not per event: a labelled prom-client inc hashes its
    // labels each time, which at node rates was a tenth of the pipeline
    const tally = new Map<string, { events: number; lastEventTime?: string; verdicts: Map<Verdict, Map<string, number>> }>();
    for (const e of events) {
      for (const o of this.registry.owners(e.watchId, e.access)) {
        if (!o.trace) continue; // every agent owner has one
        // the owner is the watch info (path, aliases, trace, pod, container)
        const rec = toRecord(e, o, this.clock, this.nodeName);
        // the kernel's would-deny is per inode: an owner without the intent only audits
        if (rec.verdict === 'would-deny' && !o.intent) rec.verdict = 'allowed';
        if ((e.access & o.access) !== e.access) rec.access = rec.access.filter((a) => (ACCESS[a] & o.access) !== 0);
        const id = traceId(o.trace);
        this.tap?.(rec);
        const limit = this.rateLimit(o.trace);
        // the window's key only where there is a limit: a string per event otherwise
        this.limiter.offer(limit ? `${id}|${e.tgid}|${rec.verdict}` : '', limit, rec);
        let t = tally.get(id);
        if (!t) tally.set(id, (t = { events: 0, verdicts: new Map() }));
        t.events += e.count;
        t.lastEventTime = rec.time;
        // a record has one verdict for all its accesses: one lookup per record
        let byAccess = t.verdicts.get(rec.verdict);
        if (!byAccess) t.verdicts.set(rec.verdict, (byAccess = new Map()));
        for (const a of rec.access) byAccess.set(a, (byAccess.get(a) ?? 0) + e.count);
        if (this.inventory.enabled) for (const access of rec.access) this.inventory.addRecord(id, o, rec, access, e.count);
      }
    }
    for (const [id, t] of tally) {
      const s = this.seen.get(id) ?? { eventsSeen: 0 };
      s.eventsSeen += t.events;
      s.lastEventTime = t.lastEventTime;
      this.seen.set(id, s);
      for (const [verdict, byAccess] of t.verdicts) for (const [access, n] of byAccess) this.metrics.events.inc({ trace: id, access, verdict }, n);
    }
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
    this.inventory.release(traceId(trace));
    this.metrics.releaseTrace(traceId(trace));
  }

  stop(): void {
    this.limiter.stop();
  }
}
