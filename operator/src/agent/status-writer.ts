// Each node's agent writes its own entry of a HiveTrace's status.nodes with
// server-side apply under a field manager of its own ("hive-agent/<node>"):
// status.nodes is a list-map keyed by node, so two agents own disjoint entries
// and cannot clobber each other.
// A write costs every agent a watch event, so the writer writes only what
// changed: the report (pods, files, unresolved, Ready) soon after it changes,
// the event counters (eventsSeen, lastEventTime) at most once per
// `countersIntervalMs` (metrics carry the live figures). The Ready condition's
// lastTransitionTime moves only when its status flips. What the entry already
// holds (from the informer's cache) is adopted at first sight, so a restarted
// agent with nothing new to say writes nothing. A dry run's report carries
// its explanation (bounded); it is part of the report, so it is written when
// it changes and never otherwise. The access inventory (inventory.ts) is
// written like the counters, at most once per `inventoryIntervalMs` when it
// changed; every write carries the current one (server-side apply drops a
// field its manager leaves out), and a restarted agent adopts the stored one
// (merged into its own). Status writes never bump
// metadata.generation (the status subresource), so none re-triggers a reconcile.
// The egress blocks of spec.correlate (blocks(), when they start, are
// extended or end: blocksChanged) are written soon after they change.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { isDeepStrictEqual } from 'node:util';
import { Logger } from '../util/log';
import { errorMessage } from '../util/errors';
import { GROUP, HiveTraceStatus, KIND, MAX_BLOCKS, PLURAL, VERSION } from '../kube/hivetrace-schema';
import { k8sLib } from '../kube/client';
import { TraceKey, traceId } from './keys';
import type { InventoryReport } from './inventory';

export interface NodeReport {
  podsMatched: number;
  filesWatched: number;
  /** Pod addresses whose traffic is monitored (0 when network mode is off). */
  podAddressesMonitored?: number;
  unresolved: { pod: string; container: string; path: string; reason: string }[];
  /** A dry run: nothing watched, `explain` says what would be. */
  dryRun?: true;
  /** A deny or kill trace: what this node does (enforcement.ts). */
  enforcement?: NodeEntry['enforcement'];
  explain?: ExplainReport;
}

export type ExplainReport = NonNullable<NodeEntry['explain']>;

export interface Counters {
  eventsSeen: number;
  lastEventTime?: string;
}

export type NodeEntry = NonNullable<HiveTraceStatus['nodes']>[number];

export interface StatusWriterOptions {
  /** The live event counters of a trace on this node. */
  counters: (key: TraceKey) => Counters | undefined;
  /** This node's entry as the API server last sent it (the informer's cache). */
  stored: (key: TraceKey) => NodeEntry | undefined;
  /** At most one write per this interval for counters alone. */
  countersIntervalMs?: number;
  /** The access inventory of a trace on this node (absent: none). */
  inventory?: (key: TraceKey) => InventoryReport | undefined;
  /** The inventory the entry held when this agent first saw it: merged into the live one. */
  adoptInventory?: (key: TraceKey, stored: InventoryReport) => void;
  /** At most one write per this interval for the inventory alone. */
  inventoryIntervalMs?: number;
  /** At most one write per this interval for a changed report. */
  minIntervalMs?: number;
  onWrite?: (key: TraceKey) => void;
  onError?: () => void;
  /** The trace's egress blocks on this node now (spec.correlate.block). */
  blocks?: (key: TraceKey) => EgressBlock[];
}

export type EgressBlock = NonNullable<NodeEntry['blocks']>[number];

/** What was last written for a trace (or found written, at first sight). */
interface Written {
  key: TraceKey;
  report?: NodeReport;
  ready?: boolean;
  lastTransitionTime?: string;
  /** The stored counters at adoption: this agent's counts add to them. */
  base: Counters;
  counters: Counters;
  /** The inventory last written (or found written). */
  inventory?: InventoryReport;
  /** The blocks last written. */
  blocks: EgressBlock[];
  at: number;
  /** The report to write, when it differs from `report`. */
  pending?: NodeReport;
  timer?: NodeJS.Timeout;
  failures: number;
}

export class StatusWriter {
  private readonly traces = new Map<string, Written>();
  private readonly ticker: NodeJS.Timeout;
  private readonly countersIntervalMs: number;
  private readonly inventoryIntervalMs: number;
  private readonly minIntervalMs: number;
  private stopped = false;

  constructor(
    private readonly custom: k8s.CustomObjectsApi,
    private readonly node: string,
    private readonly log: Logger,
    private readonly o: StatusWriterOptions,
  ) {
    this.countersIntervalMs = o.countersIntervalMs ?? 60_000;
    this.minIntervalMs = o.minIntervalMs ?? 2000;
    this.inventoryIntervalMs = o.inventoryIntervalMs ?? 30_000;
    // counters and inventory are looked at a few times per interval; each trace is written at most once per interval for them
    const every = o.inventory ? Math.min(this.countersIntervalMs, this.inventoryIntervalMs) : this.countersIntervalMs;
    this.ticker = setInterval(() => this.tick(), Math.max(25, Math.floor(every / 4)));
    this.ticker.unref();
  }

  /** The report of a reconcile: written if it differs from what the entry holds. */
  report(key: TraceKey, r: NodeReport): void {
    if (this.stopped) return;
    const w = this.entry(key);
    if (isDeepStrictEqual(w.report, r) && isDeepStrictEqual(w.blocks, this.blocks(w))) {
      w.pending = undefined;
      return;
    }
    w.pending = r;
    this.schedule(w, w.at + this.minIntervalMs);
  }

  private entry(key: TraceKey): Written {
    const id = traceId(key);
    let w = this.traces.get(id);
    if (!w) {
      w = this.adopt(key);
      this.traces.set(id, w);
    }
    return w;
  }

  /** What the API server already holds for this node, as if this agent had written it. */
  private adopt(key: TraceKey): Written {
    const s = this.o.stored(key);
    const base: Counters = { eventsSeen: s?.eventsSeen ?? 0, ...(s?.lastEventTime ? { lastEventTime: s.lastEventTime } : {}) };
    const w: Written = { key, base, counters: base, blocks: s?.blocks ?? [], at: 0, failures: 0 };
    if (!s) return w;
    if (s.inventory && this.o.inventory) {
      w.inventory = s.inventory;
      this.o.adoptInventory?.(key, s.inventory);
    }
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    w.ready = ready ? ready.status === 'True' : undefined;
    w.lastTransitionTime = ready?.lastTransitionTime;
    w.report = {
      podsMatched: s.podsMatched ?? 0,
      filesWatched: s.filesWatched ?? 0,
      ...(s.podAddressesMonitored !== undefined ? { podAddressesMonitored: s.podAddressesMonitored } : {}),
      unresolved: s.unresolved ?? [],
      ...(s.dryRun ? { dryRun: true as const } : {}),
      ...(s.enforcement ? { enforcement: s.enforcement } : {}),
      ...(s.explain ? { explain: s.explain } : {}),
    };
    return w;
  }

  private blocks(w: Written): EgressBlock[] {
    return this.o.blocks?.(w.key).slice(0, MAX_BLOCKS) ?? [];
  }

  /** The trace's blocks changed: written soon, as a changed report is. */
  blocksChanged(key: TraceKey): void {
    const w = this.traces.get(traceId(key));
    if (w && !this.stopped) this.schedule(w, w.at + this.minIntervalMs);
  }

  private counters(w: Written): Counters {
    const c = this.o.counters(w.key);
    if (!c) return w.base;
    return { eventsSeen: w.base.eventsSeen + c.eventsSeen, ...(c.lastEventTime || w.base.lastEventTime ? { lastEventTime: c.lastEventTime ?? w.base.lastEventTime } : {}) };
  }

  /** The live inventory, or what was adopted while this agent has seen nothing. */
  private inventoryOf(w: Written): InventoryReport | undefined {
    return this.o.inventory?.(w.key) ?? w.inventory;
  }

  private tick(): void {
    const now = Date.now();
    for (const w of this.traces.values()) {
      if (w.timer || !w.report) continue; // a write is coming (it carries the counters), or nothing was reported yet
      // blocks missed by blocksChanged (e.g. stale ones adopted) ride with the counters' cadence
      const counters =
        now - w.at >= this.countersIntervalMs && (!isDeepStrictEqual(this.counters(w), w.counters) || !isDeepStrictEqual(this.blocks(w), w.blocks));
      const inventory = !counters && this.o.inventory && now - w.at >= this.inventoryIntervalMs && !isDeepStrictEqual(this.inventoryOf(w), w.inventory);
      if (counters || inventory) this.schedule(w, now);
    }
  }

  private schedule(w: Written, at: number): void {
    if (w.timer || this.stopped) return;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      void this.write(w);
    }, Math.max(0, at - Date.now()));
    w.timer.unref();
  }

  forget(key: TraceKey): void {
    const id = traceId(key);
    clearTimeout(this.traces.get(id)?.timer);
    this.traces.delete(id);
  }

  /** Writes the pending report (or the last one) with the current counters. */
  private async write(w: Written): Promise<void> {
    const r = w.pending ?? w.report;
    if (!r) return;
    const counters = this.counters(w);
    const inventory = this.inventoryOf(w);
    const blocks = this.blocks(w);
    const ready = isReady(r);
    const now = new Date().toISOString();
    const lastTransitionTime = ready === w.ready && w.lastTransitionTime ? w.lastTransitionTime : now;
    const body = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: KIND,
      metadata: { name: w.key.name, namespace: w.key.namespace },
      status: {
        nodes: [{ ...entry(this.node, r, counters, ready, lastTransitionTime), ...(inventory ? { inventory } : {}), ...(blocks.length ? { blocks } : {}) }],
      },
    };
    const attempt = w.at;
    w.at = Date.now();
    try {
      const { setHeaderOptions, PatchStrategy } = await k8sLib();
      await this.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: PLURAL, namespace: w.key.namespace, name: w.key.name, body, fieldManager: `hive-agent/${this.node}`, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
    } catch (e) {
      this.o.onError?.();
      if ((e as { code?: number }).code === 404 || !this.traces.has(traceId(w.key))) {
        this.log.debug({ trace: traceId(w.key), err: errorMessage(e) }, 'status write failed: trace gone');
        return;
      }
      // try again later, doubling up to a minute; the write then carries what is current
      w.at = attempt;
      w.failures++;
      const retryInMs = Math.min(1000 * 2 ** (w.failures - 1), 60_000);
      this.log.warn({ trace: traceId(w.key), err: errorMessage(e), retryInMs }, 'status write failed');
      w.pending = r;
      this.schedule(w, Date.now() + retryInMs);
      return;
    }
    w.failures = 0;
    w.report = r;
    if (w.pending === r) w.pending = undefined;
    w.ready = ready;
    w.lastTransitionTime = lastTransitionTime;
    w.counters = counters;
    w.inventory = inventory;
    w.blocks = blocks;
    this.o.onWrite?.(w.key);
    // a report that changed while this write was in flight
    if (w.pending) this.schedule(w, w.at + this.minIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
    for (const w of this.traces.values()) clearTimeout(w.timer);
    this.traces.clear();
  }
}

function entry(node: string, r: NodeReport, c: Counters, ready: boolean, lastTransitionTime: string): NodeEntry {
  return {
    node,
    podsMatched: r.podsMatched,
    filesWatched: r.filesWatched,
    ...(r.podAddressesMonitored !== undefined ? { podAddressesMonitored: r.podAddressesMonitored } : {}),
    unresolved: r.unresolved,
    ...(r.dryRun ? { dryRun: true } : {}),
    ...(r.enforcement ? { enforcement: r.enforcement } : {}),
    ...(r.explain ? { explain: r.explain } : {}),
    eventsSeen: c.eventsSeen,
    ...(c.lastEventTime ? { lastEventTime: c.lastEventTime } : {}),
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: readyReason(r, ready), message: readyMessage(r, ready), lastTransitionTime }],
  };
}

/** Ready: every path and container resolved, and the trace's action applied if it asks to stop (not audited for want of a mode). */
function isReady(r: NodeReport): boolean {
  return r.unresolved.length === 0 && !r.enforcement?.unavailable;
}

/**
 * A dry run says so first (it attaches nothing, so it enforces nothing);
 * then a node that cannot apply the action (the whole trace is affected),
 * then unresolved paths.
 */
function readyReason(r: NodeReport, ready: boolean): string {
  if (r.dryRun) return 'DryRun';
  if (r.enforcement?.unavailable) return 'EnforcementUnavailable';
  return ready ? 'Watching' : 'Unresolved';
}

function readyMessage(r: NodeReport, ready: boolean): string {
  const problems = `${r.unresolved.length} path(s) or container(s) not resolved: ${r.unresolved
    .slice(0, 3)
    .map((u) => `${u.pod}/${u.container} ${u.path}: ${u.reason}`)
    .join('; ')}`;
  if (r.dryRun) {
    const would = r.explain ? `${r.explain.files} file(s) would be watched${r.explain.podAddresses ? `, ${r.explain.podAddresses} pod address(es) monitored` : ''}` : 'nothing would be watched';
    return `dry run, nothing attached: ${would} in ${r.podsMatched} pod(s)${ready ? '' : `; ${problems}`}`;
  }
  const watched = `${r.filesWatched} file(s) watched` + (r.podAddressesMonitored ? `, ${r.podAddressesMonitored} pod address(es) monitored` : '') + ` in ${r.podsMatched} pod(s)`;
  const e = r.enforcement;
  const doing = !e ? '' : e.applied === 'would-deny' ? ` (audited, would-deny: ${e.reason})` : ` (${e.applied} in mode ${e.mode})`;
  if (e?.unavailable) return `cannot enforce here: ${e.reason}; ${watched}, audited as would-deny${r.unresolved.length ? `; ${problems}` : ''}`;
  return ready ? watched + doing : problems;
}
