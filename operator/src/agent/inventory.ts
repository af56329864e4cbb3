// The access inventory of each trace on this node: one entry per (pod,
// container, executable, path, access) with its count, first and last time
// and last uid — what status.nodes[].inventory shows, so that "who read this
// secret" needs no log pipeline. Counts are accesses, so a record the kernel
// folded (a storm) adds its `count`. What the status shows is bounded: the
// `limit` most recently seen entries, the rest counted in `omitted`; what is
// kept in memory is bounded too (the least recently seen entries past `keep`
// are dropped and counted as omitted from then on).
import type { AccessName } from '../fileaccess/layout';
import type { HiveTraceStatus } from '../kube/hivetrace-schema';

export type InventoryReport = NonNullable<NonNullable<HiveTraceStatus['nodes']>[number]['inventory']>;
export type InventoryEntry = InventoryReport['entries'][number];

export const DEFAULT_INVENTORY_SIZE = 50;

/**
 * The executable an entry is keyed on: the event's `process.exe` when it has
 * one, else its `comm`. Every inventory key goes through this one function.
 */
export function executableOf(p: { comm: string; exe?: string }): string {
  return p.exe || p.comm;
}

/** One or more accesses to add (count > 1: the kernel folded repeats). */
export interface Access {
  pod: string;
  container: string;
  exe: string;
  path: string;
  access: AccessName;
  count: number;
  /** ISO time of the (last) access. */
  time: string;
  uid: number;
  /** Who accessed, when not the pod itself (InventoryEntry.accessor). */
  accessor?: string;
}

export function entryKey(e: Pick<InventoryEntry, 'pod' | 'container' | 'exe' | 'path' | 'access' | 'accessor'>): string {
  // NUL cannot be in a name, an exe path or a trace path: the key is unambiguous
  return `${e.pod}\0${e.container}\0${e.exe}\0${e.path}\0${e.access}\0${e.accessor ?? ''}`;
}

/** Folds `from` into `into` (same key): counts add, the times widen, the uid is the later access's. */
export function mergeEntry(into: InventoryEntry, from: InventoryEntry): void {
  into.count += from.count;
  if (from.firstSeen < into.firstSeen) into.firstSeen = from.firstSeen;
  if (from.lastSeen >= into.lastSeen) {
    into.lastSeen = from.lastSeen;
    into.uid = from.uid;
  }
}

/** Most recently seen first; ties in a stable order of the key. */
export function byRecency(a: InventoryEntry, b: InventoryEntry): number {
  if (a.lastSeen !== b.lastSeen) return a.lastSeen < b.lastSeen ? 1 : -1;
  const ka = entryKey(a);
  const kb = entryKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The `limit` most recent of `entries` (copies), and how many were left out. */
export function bounded(entries: Iterable<InventoryEntry>, limit: number, alreadyOmitted = 0): InventoryReport {
  const all = [...entries].sort(byRecency);
  return { entries: all.slice(0, limit).map((e) => ({ ...e })), omitted: alreadyOmitted + Math.max(0, all.length - limit) };
}

/** What addAccess reads of a watch's owner. */
interface WatchOf {
  pod?: { name: string };
  container?: { name: string };
}

const ACCESS_SLOT: Record<AccessName, number> = { read: 0, write: 1, exec: 2 };

interface TraceInventory {
  entries: Map<string, InventoryEntry>;
  /**
   * The same entries by the caller's watch object (one per pod, container and
   * path), then exe, then access: no key string per event on the hot path. A cache,
   * cleared when entries are dropped.
   */
  byWatch: WeakMap<object, Map<string, InventoryEntry[]>>;
  /** Entries dropped from memory (and stored ones that were omitted already). */
  dropped: number;
}

export class Inventory {
  private readonly traces = new Map<string, TraceInventory>();
  /** In memory per trace at most this many (plus a slack, so dropping is not per event). */
  private readonly keep: number;

  constructor(
    /** At most this many entries per trace in a report; 0: no inventory. */
    readonly limit: number = DEFAULT_INVENTORY_SIZE,
    keep?: number,
  ) {
    this.keep = keep ?? Math.max(4 * limit, 256);
  }

  get enabled(): boolean {
    return this.limit > 0;
  }

  private trace(id: string): TraceInventory {
    let t = this.traces.get(id);
    if (!t) this.traces.set(id, (t = { entries: new Map(), byWatch: new WeakMap(), dropped: 0 }));
    return t;
  }

  /**
   * add(), for the pipeline: `watch` is an object that stands for one (pod,
   * container, path) as long as it lives (the registry's owner of a watch),
   * `rec` the event's record under that owner.
   */
  /**
   * `count` accesses of `path` by `exe` (executableOf) as uid `uid` at `time`
   * (ISO), under the watch's pod and container: the pipeline's, per event.
   */
  addAccess(traceId: string, watch: WatchOf, exe: string, path: string, access: AccessName, count: number, time: string, uid: number, accessor?: string): void {
    if (!this.enabled) return;
    const t = this.trace(traceId);
    let m = t.byWatch.get(watch);
    if (!m) t.byWatch.set(watch, (m = new Map()));
    // another accessor's exe of the same path is another entry (the node's kubelet is not a pod's /usr/bin/kubelet)
    const slotKey = accessor === undefined ? exe : `${exe}\0${accessor}`;
    let slots = m.get(slotKey);
    if (!slots) m.set(slotKey, (slots = []));
    const i = ACCESS_SLOT[access];
    const had = slots[i];
    if (had) {
      had.count += count;
      if (time >= had.lastSeen) {
        had.lastSeen = time;
        had.uid = uid;
      } else if (time < had.firstSeen) had.firstSeen = time;
      return;
    }
    const e = this.add(traceId, { pod: watch.pod?.name ?? '', container: watch.container?.name ?? '', exe, path, access, count, time, uid, ...(accessor !== undefined ? { accessor } : {}) });
    if (e) slots[i] = e;
  }

  /** Adds one or more accesses; returns the entry they went to (undefined: the inventory is off). */
  add(traceId: string, a: Access): InventoryEntry | undefined {
    if (!this.enabled) return undefined;
    const t = this.trace(traceId);
    const e: InventoryEntry = { pod: a.pod, container: a.container, exe: a.exe, path: a.path, access: a.access, count: a.count, firstSeen: a.time, lastSeen: a.time, uid: a.uid };
    if (a.accessor !== undefined) e.accessor = a.accessor;
    const k = entryKey(e);
    const had = t.entries.get(k);
    if (had) {
      mergeEntry(had, e);
      return had;
    }
    t.entries.set(k, e);
    if (t.entries.size > this.keep + Math.max(16, this.keep >> 3)) this.drop(t);
    return e;
  }

  /**
   * What the API server held for this node when the agent started: merged in,
   * so a restart keeps the history. Its `omitted` entries are unknown here and
   * stay counted (an access to one of them later counts it twice, at most).
   */
  seed(traceId: string, stored: InventoryReport): void {
    if (!this.enabled) return;
    const t = this.trace(traceId);
    for (const s of stored.entries) {
      const e = { ...s };
      const k = entryKey(e);
      const had = t.entries.get(k);
      if (had) mergeEntry(had, e);
      else t.entries.set(k, e);
    }
    t.dropped += stored.omitted;
    if (t.entries.size > this.keep) this.drop(t);
  }

  /** The trace's report, or undefined when nothing was seen (or the inventory is off). */
  report(traceId: string): InventoryReport | undefined {
    const t = this.traces.get(traceId);
    if (!t || !this.enabled) return undefined;
    return bounded(t.entries.values(), this.limit, t.dropped);
  }

  /** A deleted trace: its entries go. */
  release(traceId: string): void {
    this.traces.delete(traceId);
  }

  /** Drops the least recently seen entries down to `keep`. */
  private drop(t: TraceInventory): void {
    const old = [...t.entries.values()].sort(byRecency).slice(this.keep);
    for (const e of old) t.entries.delete(entryKey(e));
    t.dropped += old.length;
    t.byWatch = new WeakMap(); // it may hold dropped entries
  }
}
