// The file-access hook as one closeable object: open -> configure -> load ->
// attach (libbpf-bootstrap's phases), then watch/unwatch inodes, read counters
// and receive decoded events in batches. close() releases everything in
// reverse order and is idempotent.
import os from 'node:os';
import { Logger, log as rootLog } from '../util/log';
import { EnvironmentError, HiveError, MapFullError } from '../util/errors';
import { checkInt } from '../util/int';
import { NativeBpfObject, NativeError, RingPoll, bpfObjectPath, describeNativeError as describe, native, readCounters } from '../bpf/native';
import {
  ACCESS_ALL,
  COUNTER,
  CounterName,
  INODE_KEY,
  RawFileEvent,
  WATCH,
  SCOPE,
  SCOPE_KEY,
  encodeScope,
  encodeScopeKey,
  FileRecords,
  decodeRecords,
  splitBatch,
  encodeInodeKey,
  encodeWatch,
} from './layout';
import { AUTO_ORDER, LINEAGE_PROGRAM, Mode, ModeOption, programsFor } from './modes';
import { ProcessTable } from '../bpf/process-table';
import { Enforcement, MODE_ENFORCEMENT, enforcementProblem, modesFor } from './action';
import { checkCapabilities, checkKernelBtf, customBtfPath } from '../bpf/environment';

export const DEFAULT_MAX_WATCHES = 65536;
export const MAX_MAX_WATCHES = 1 << 22;
export const DEFAULT_RING_BYTES = 8 << 20;
/** Storm aggregation: the interval (the flush period) and how many keys it holds. */
export const DEFAULT_AGGREGATE_MS = 1000;
export const DEFAULT_AGGREGATE_KEYS = 8192;
/** Capacity of the kernel's exempt-executables map (bpf/fileaccess.bpf.c exempt_exes). */
export const MAX_EXEMPT_EXECUTABLES = 1024;
/** The program user space runs once an interval to write the folded counts out. */
export const FLUSH_PROGRAM = 'hive_agg_flush';

export interface FileAccessOptions {
  mode?: ModeOption;
  /** Capacity of the watched-inode map. */
  maxWatches?: number;
  /** Ring-buffer size in bytes: a power of two, at least one page. */
  ringBufferBytes?: number;
  /**
   * Storm aggregation interval in ms (0: off). Repeats of one (watch, process,
   * access) within it are counted in the kernel and written as one record
   * with `count` when it ends; the first is reported at once.
   */
  aggregateMs?: number;
  /** Capacity of the aggregate map (keys seen within an interval); past it, accesses go one by one. */
  aggregateKeys?: number;
  /**
   * Watches may stop accesses this way: deny (lsm, fentry with fmod_ret) or
   * kill (tracepoint). Auto picks among the modes that can; a mode that
   * cannot is an error naming those that can. Absent: audit only (watches
   * with deny or kill masks are refused). 'capable': whatever the mode it
   * opens in can (MODE_ENFORCEMENT; the agent's choice: `enforce` then says
   * what this node can stop, and a trace asking for more is reported).
   */
  enforce?: Enforcement | 'capable';
  /**
   * Inode number of a mount namespace (the host's) whose tasks are never
   * denied or killed; their accesses are reported as allowed. 0 or absent: none.
   */
  exemptMountNs?: number;
  objectPath?: string;
  log?: Logger;
}

export interface InodeRef {
  ino: bigint;
  /** Kernel encoding, major << 20 | minor. */
  dev: number;
}

export interface WatchEntry extends InodeRef {
  watchId: number;
  /** ACCESS_* bits to report. */
  access: number;
  /** Of those, the ones the hook refuses with EPERM (needs enforce: 'deny'). */
  deny?: number;
  /** Of those, the ones whose opener is killed (needs enforce: 'kill'). */
  kill?: number;
  /**
   * Of those, the ones reported as would-deny (unless the process is exempt):
   * a deny or kill audited first, or one the mode cannot apply. Any mode.
   */
  would?: number;
  /**
   * Stops that apply only to the tasks of one pid namespace each (a pod's
   * containers', and those nested under it): deny, kill and would above
   * apply to every task, these only to their scope's. The agent's traces
   * stop this way; `hive trace` on host paths the other.
   */
  scopes?: Scope[];
}

/** What one inode's watches stop for the tasks of one pid namespace (subsets of the entry's access). */
export interface Scope {
  /** Inode number of the pid namespace (its /proc/<pid>/ns/pid link). */
  pidNs: number;
  deny?: number;
  kill?: number;
  would?: number;
}

/** A mode that could not be loaded or attached, and why. */
export class AttachError extends HiveError {
  constructor(
    readonly mode: Mode,
    readonly reason: string,
  ) {
    super(`mode ${mode} cannot attach on this kernel: ${reason}`);
  }
}

/** fileaccess-noagg.bpf.o next to fileaccess.bpf.o: the same hook built without storm aggregation. */
export function noAggregatePath(objectPath: string): string {
  return objectPath.replace(/\.bpf\.o$/, '-noagg.bpf.o');
}

/** The kernel refused the object with storm aggregation (it loads again without). */
class AggregationError extends HiveError {}

type Validated = Required<Omit<FileAccessOptions, 'log' | 'objectPath' | 'enforce'>> & { enforce: Enforcement | null };

function validateOptions(o: FileAccessOptions): Omit<Validated, 'enforce'> & { enforce: Enforcement | 'capable' | null } {
  const maxWatches = checkInt('max watches', o.maxWatches ?? DEFAULT_MAX_WATCHES, 1, MAX_MAX_WATCHES);
  const ring = o.ringBufferBytes ?? DEFAULT_RING_BYTES;
  if (!Number.isInteger(ring) || ring < 4096 || ring > 1 << 30 || (ring & (ring - 1)) !== 0) {
    throw new HiveError(`ring buffer size must be a power of two from 4096 to 1 GiB, got ${ring}`);
  }
  const aggregateMs = checkInt('aggregate interval (ms)', o.aggregateMs ?? DEFAULT_AGGREGATE_MS, 0, 60_000);
  const aggregateKeys = checkInt('aggregate keys', o.aggregateKeys ?? DEFAULT_AGGREGATE_KEYS, 1, 1 << 20);
  const enforce = o.enforce ?? null;
  if (enforce !== null && enforce !== 'deny' && enforce !== 'kill' && enforce !== 'capable') throw new HiveError(`enforce must be deny, kill or capable, got ${String(enforce)}`);
  const mode = o.mode ?? 'auto';
  if (enforce && enforce !== 'capable' && mode !== 'auto') {
    const problem = enforcementProblem(mode, enforce);
    if (problem) throw new HiveError(problem);
  }
  const exemptMountNs = checkInt('exempt mount namespace (inode number)', o.exemptMountNs ?? 0, 0, 0xffffffff);
  return { mode, maxWatches, ringBufferBytes: ring, aggregateMs, aggregateKeys, enforce, exemptMountNs };
}

/** Whether the kernel folds storms, and if not why. */
export interface Aggregation {
  on: boolean;
  intervalMs: number;
  /** Why it is off on this kernel (it loaded without it). */
  reason?: string;
}

/** Position of `struct inode *` in inode_permission, from the kernel's BTF. */
export function inodeArgPosition(): number | null {
  const params = native().kernelFuncParams('inode_permission', customBtfPath());
  if (!params) return null;
  const i = params.findIndex((p) => p.type === 'struct inode *');
  return i >= 0 ? i : null;
}

export class FileAccessMonitor {
  private obj: NativeBpfObject | null;
  /** "dev:ino" -> watch id of what is in the kernel map (a number, not the caller's entry: one object fewer per inode). */
  private readonly watched = new Map<string, number>();
  /** "dev:ino" -> the pid namespaces of its entries in watch_scopes. */
  private readonly scoped = new Map<string, number[]>();
  private scopeEntries = 0;
  private readonly exempt = new Map<string, InodeRef>();
  private readonly log: Logger;
  private malformed = 0;
  /** Batches whose decoding or handler threw (their records are lost). */
  private handlerErrors = 0;
  private flushErrors = 0;
  private poll: RingPoll | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private static readonly FLUSH_ARG = Buffer.alloc(0);
  /** Process records from the ring buffer: each event's executable and ancestors. */
  readonly processes = new ProcessTable();

  private constructor(
    obj: NativeBpfObject,
    readonly mode: Mode,
    readonly maxWatches: number,
    /** Optional programs the kernel could not attach. */
    readonly skipped: string[],
    readonly aggregation: Aggregation,
    /** What its watches may ask for besides audit (null: nothing). */
    readonly enforce: Enforcement | null,
    /** The mount namespace whose tasks are never stopped (0: none). */
    readonly exemptMountNs: number,
    log: Logger,
  ) {
    this.obj = obj;
    this.log = log;
    if (aggregation.on) {
      // user space keeps time, the kernel does the folding: a kprobe program
      // may not own a bpf_timer ("tracing progs cannot use bpf_timer"), and
      // all four modes share one aggregation
      this.flushTimer = setInterval(() => this.flush(), aggregation.intervalMs);
      this.flushTimer.unref();
    }
  }

  /**
   * Opens, configures, loads and attaches the hook. With mode 'auto' it tries
   * AUTO_ORDER and keeps the first that attaches; `reasons` says why the
   * others were passed over.
   */
  static open(options: FileAccessOptions = {}): { monitor: FileAccessMonitor; reasons: Record<string, string> } {
    const o = validateOptions(options);
    const log = (options.log ?? rootLog).child({ module: 'file-access' });
    checkCapabilities();
    checkKernelBtf();
    const wants = o.enforce === 'capable' ? null : o.enforce;
    const candidates = o.mode !== 'auto' ? [o.mode] : wants ? AUTO_ORDER.filter((m) => MODE_ENFORCEMENT[m] === wants) : AUTO_ORDER;
    const reasons: Record<string, string> = {};
    for (const mode of candidates) {
      try {
        const enforce = o.enforce === 'capable' ? MODE_ENFORCEMENT[mode] : o.enforce;
        const monitor = FileAccessMonitor.openMode(mode, { ...o, enforce }, options.objectPath ?? bpfObjectPath('fileaccess'), log);
        return { monitor, reasons };
      } catch (e) {
        if (!(e instanceof AttachError)) throw e;
        reasons[mode] = e.reason;
        if (o.mode !== 'auto') throw e;
      }
    }
    throw new EnvironmentError(
      `no attach mode${wants ? ` that can ${wants} (${modesFor(wants).join(', ')})` : ''} works on this kernel: ${Object.entries(reasons)
        .map(([m, r]) => `${m}: ${r}`)
        .join('; ')}`,
    );
  }

  private static openMode(mode: Mode, o: Validated, objectPath: string, log: Logger): FileAccessMonitor {
    const wanted: Aggregation = o.aggregateMs === 0 ? { on: false, intervalMs: 0, reason: 'turned off' } : { on: true, intervalMs: o.aggregateMs };
    try {
      return FileAccessMonitor.openWith(mode, o, objectPath, log, wanted);
    } catch (e) {
      if (!(e instanceof AggregationError)) throw e;
      // kernels before 5.12 (Debian 11's 5.10) refuse the atomic fetch
      // instructions the folding needs, wherever they are, even switched
      // off: the object built without them, where every access is a record
      const reason = wanted.on ? e.message : 'turned off';
      const m = FileAccessMonitor.openWith(mode, o, noAggregatePath(objectPath), log, { on: false, intervalMs: 0, reason }, false);
      if (wanted.on) log.info({ mode, reason }, 'storm aggregation off: the kernel refused it, every access is a record');
      return m;
    }
  }

  /** `hasAgg`: the object has the aggregation's maps and switch (not fileaccess-noagg.bpf.o). */
  private static openWith(mode: Mode, o: Validated, objectPath: string, log: Logger, aggregation: Aggregation, hasAgg = true): FileAccessMonitor {
    let inodeArg: number | null = null;
    if (mode === 'kprobe' || mode === 'fentry') {
      inodeArg = inodeArgPosition();
      if (inodeArg === null) throw new AttachError(mode, 'inode_permission has no struct inode * argument in the kernel BTF');
    }
    const rdonlyCast = mode === 'tracepoint' && native().kernelFuncParams('bpf_rdonly_cast', customBtfPath()) !== null;
    const progs = programsFor(mode, { inodeArg, rdonlyCast }, o.enforce === 'deny');
    // open
    let obj: NativeBpfObject;
    try {
      obj = new (native().BpfObject)(objectPath, customBtfPath());
    } catch (e) {
      throw new HiveError(`cannot open BPF object: ${describe(e)} (run 'make build')`);
    }
    const skipped: string[] = [];
    try {
      // configure: read-only settings, only before load
      for (const p of [...progs.required, ...progs.optional]) obj.setAutoload(p, true);
      obj.setMaxEntries('watched', o.maxWatches);
      obj.setMaxEntries('watch_scopes', o.maxWatches);
      obj.setMaxEntries('events', o.ringBufferBytes);
      if (hasAgg) {
        obj.setMaxEntries('agg', o.aggregateKeys);
        const on = Buffer.alloc(4);
        on.writeUInt32LE(aggregation.on ? 1 : 0);
        obj.setRodata('aggregate_on', on);
        if (aggregation.on) obj.setAutoload(FLUSH_PROGRAM, true);
      }
      if (inodeArg !== null) {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(inodeArg);
        obj.setRodata('inode_arg', b);
      }
      // this process is never denied or killed, whatever a watch says
      const self = Buffer.alloc(4);
      self.writeUInt32LE(process.pid);
      obj.setRodata('self_tgid', self);
      const mntns = Buffer.alloc(4);
      mntns.writeUInt32LE(o.exemptMountNs);
      obj.setRodata('exempt_mntns', mntns);
      // load
      try {
        obj.load();
      } catch (e) {
        if (hasAgg) throw new AggregationError(describe(e));
        throw new AttachError(mode, describe(e));
      }
      // attach
      for (const p of progs.required) {
        try {
          obj.attach(p);
        } catch (e) {
          throw new AttachError(mode, describe(e));
        }
      }
      for (const p of progs.optional) {
        try {
          obj.attach(p);
        } catch (e) {
          skipped.push(p);
          if (p === LINEAGE_PROGRAM) log.warn({ program: p, err: describe(e) }, 'exec tracepoint not attached: events after an exec keep the executable from before it');
          else log.debug({ program: p, err: describe(e) }, 'optional program not attached');
        }
      }
    } catch (e) {
      obj.close(); // undo only what was created: the object owns its links
      throw e;
    }
    log.debug({ mode, inodeArg, programs: progs.required, skipped, aggregation, enforce: o.enforce }, 'attached');
    return new FileAccessMonitor(obj, mode, o.maxWatches, skipped, aggregation, o.enforce, o.exemptMountNs, log);
  }

  private live(op: string): NativeBpfObject {
    if (!this.obj) throw new HiveError(`${op}: the file-access monitor is closed`);
    return this.obj;
  }

  /** Adds (or updates) watched inodes in one batch; all or nothing on capacity. */
  watch(entries: WatchEntry[]): void {
    const obj = this.live('watch');
    for (const e of entries) {
      if (typeof e.ino !== 'bigint' || e.ino < 0n) throw new HiveError(`watch: bad inode ${String(e.ino)}`);
      if (!Number.isInteger(e.dev) || e.dev < 0 || e.dev > 0xffffffff) throw new HiveError(`watch: bad dev ${e.dev}`);
      if (!Number.isInteger(e.watchId) || e.watchId < 1 || e.watchId > 0xffffffff) {
        throw new HiveError(`watch: watch id must be an integer from 1 to 2^32-1, got ${e.watchId}`);
      }
      if (!Number.isInteger(e.access) || e.access < 1 || (e.access & ~ACCESS_ALL) !== 0) {
        throw new HiveError(`watch: access mask must be a non-empty subset of read|write|exec, got ${e.access}`);
      }
      this.checkStops(e, e.access);
      const seen = new Set<number>();
      for (const sc of e.scopes ?? []) {
        if (!Number.isInteger(sc.pidNs) || sc.pidNs < 1 || sc.pidNs > 0xffffffff) throw new HiveError(`watch: a scope's pid namespace must be an inode number from 1 to 2^32-1, got ${sc.pidNs}`);
        if (seen.has(sc.pidNs)) throw new HiveError(`watch: pid namespace ${sc.pidNs} is scoped twice on inode ${e.ino}`);
        seen.add(sc.pidNs);
        this.checkStops(sc, e.access);
      }
    }
    const unique = new Map<string, WatchEntry>();
    for (const e of entries) unique.set(`${e.dev}:${e.ino}`, e);
    let added = 0;
    let scopes = this.scopeEntries;
    for (const [k, e] of unique) {
      if (!this.watched.has(k)) added++;
      scopes += (e.scopes?.length ?? 0) - (this.scoped.get(k)?.length ?? 0);
    }
    if (this.watched.size + added > this.maxWatches) throw new MapFullError(this.watched.size + added, this.maxWatches);
    if (scopes > this.maxWatches) throw new MapFullError(scopes, this.maxWatches, 'scoped stops');
    if (unique.size === 0) return;
    // the scopes first: an inode's scoped_mask never names a stop whose entry is not there yet
    this.writeScopes(obj, [...unique.values()].flatMap((e) => (e.scopes ?? []).map((sc) => ({ e, sc }))));
    const keys = Buffer.alloc(unique.size * INODE_KEY.size);
    const vals = Buffer.alloc(unique.size * WATCH.size);
    let i = 0;
    for (const e of unique.values()) {
      let scoped = 0;
      for (const sc of e.scopes ?? []) scoped |= (sc.deny ?? 0) | (sc.kill ?? 0) | (sc.would ?? 0);
      encodeInodeKey(e.ino, e.dev, keys, i * INODE_KEY.size);
      encodeWatch(e.watchId, e.access, e.deny ?? 0, e.kill ?? 0, e.would ?? 0, vals, i * WATCH.size, scoped);
      i++;
    }
    try {
      obj.mapUpdateBatch('watched', keys, vals, unique.size);
    } catch (e) {
      const errno = (e as NativeError).errno;
      if (errno === os.constants.errno.E2BIG || errno === os.constants.errno.ENOSPC) {
        throw new MapFullError(this.watched.size + added, this.maxWatches);
      }
      throw new HiveError(`watch: ${describe(e)}`);
    }
    for (const [k, e] of unique) {
      this.watched.set(k, e.watchId);
      // then the scopes no longer wanted: a stop lifted last
      const now = (e.scopes ?? []).map((sc) => sc.pidNs);
      this.dropScopes(obj, e, k, now);
    }
  }

  /** Throws unless the stop masks of `m` are subsets of `access` this monitor can apply. */
  private checkStops(m: { deny?: number; kill?: number; would?: number }, access: number): void {
    const would = m.would ?? 0;
    if (!Number.isInteger(would) || would < 0 || (would & ~access) !== 0) throw new HiveError(`watch: the would-deny mask must be a subset of the access mask ${access}, got ${would}`);
    for (const action of ['deny', 'kill'] as const) {
      const v = m[action] ?? 0;
      if (!Number.isInteger(v) || v < 0 || (v & ~access) !== 0) throw new HiveError(`watch: the ${action} mask must be a subset of the access mask ${access}, got ${v}`);
      if (v && this.enforce !== action) {
        // never audit silently what was asked to be stopped
        throw new HiveError(`watch: ${this.enforce === null ? `this monitor was opened for audit only (mode ${this.mode})` : enforcementProblem(this.mode, action)}; cannot ${action}`);
      }
    }
  }

  private writeScopes(obj: NativeBpfObject, all: { e: WatchEntry; sc: Scope }[]): void {
    if (all.length === 0) return;
    const keys = Buffer.alloc(all.length * SCOPE_KEY.size);
    const vals = Buffer.alloc(all.length * SCOPE.size);
    all.forEach(({ e, sc }, i) => {
      encodeScopeKey(e.ino, e.dev, sc.pidNs, keys, i * SCOPE_KEY.size);
      encodeScope(sc.deny ?? 0, sc.kill ?? 0, sc.would ?? 0, vals, i * SCOPE.size);
    });
    try {
      obj.mapUpdateBatch('watch_scopes', keys, vals, all.length);
    } catch (err) {
      const errno = (err as NativeError).errno;
      if (errno === os.constants.errno.E2BIG || errno === os.constants.errno.ENOSPC) throw new MapFullError(this.scopeEntries + all.length, this.maxWatches, 'scoped stops');
      throw new HiveError(`watch: scoped stops: ${describe(err)}`);
    }
    for (const { e, sc } of all) {
      const k = `${e.dev}:${e.ino}`;
      const had = this.scoped.get(k) ?? [];
      if (!had.includes(sc.pidNs)) {
        this.scoped.set(k, had.concat(sc.pidNs));
        this.scopeEntries++;
      }
    }
  }

  /** Deletes the inode's scope entries whose namespace is not in `keep`. */
  private dropScopes(obj: NativeBpfObject, r: InodeRef, k: string, keep: number[]): void {
    const had = this.scoped.get(k);
    if (!had) return;
    for (const ns of had) {
      if (keep.includes(ns)) continue;
      obj.mapDelete('watch_scopes', encodeScopeKey(r.ino, r.dev, ns));
      this.scopeEntries--;
    }
    const left = had.filter((ns) => keep.includes(ns));
    if (left.length) this.scoped.set(k, left);
    else this.scoped.delete(k);
  }

  /** Removes watched inodes; returns how many were present. */
  unwatch(refs: InodeRef[]): number {
    const obj = this.live('unwatch');
    let removed = 0;
    for (const r of refs) {
      const k = `${r.dev}:${r.ino}`;
      if (!this.watched.has(k)) continue;
      obj.mapDelete('watched', encodeInodeKey(r.ino, r.dev));
      this.watched.delete(k);
      this.dropScopes(obj, r, k, []);
      removed++;
    }
    return removed;
  }

  /**
   * Replaces the set of exempt executables: processes running one of these
   * files (by inode, as watches are keyed) are never denied or killed; their
   * accesses are reported as allowed. All checked before the kernel map changes.
   */
  setExemptExecutables(refs: InodeRef[]): void {
    const op = 'set exempt executables';
    const obj = this.live(op);
    const wanted = new Map<string, InodeRef>();
    for (const r of refs) {
      if (typeof r.ino !== 'bigint' || r.ino < 0n || r.ino >= 1n << 64n) throw new HiveError(`${op}: inode must be a bigint from 0 to 2^64-1, got ${String(r.ino)}`);
      if (!Number.isInteger(r.dev) || r.dev < 0 || r.dev > 0xffffffff) throw new HiveError(`${op}: dev must be a kernel device number from 0 to 2^32-1, got ${r.dev}`);
      wanted.set(`${r.dev}:${r.ino}`, { ino: r.ino, dev: r.dev });
    }
    if (wanted.size > MAX_EXEMPT_EXECUTABLES) throw new HiveError(`${op}: at most ${MAX_EXEMPT_EXECUTABLES} executables, got ${wanted.size}`);
    try {
      for (const [k, r] of this.exempt) {
        if (!wanted.has(k)) obj.mapDelete('exempt_exes', encodeInodeKey(r.ino, r.dev));
      }
      const added = [...wanted].filter(([k]) => !this.exempt.has(k));
      if (added.length > 0) {
        const keys = Buffer.alloc(added.length * INODE_KEY.size);
        added.forEach(([, r], i) => encodeInodeKey(r.ino, r.dev, keys, i * INODE_KEY.size));
        obj.mapUpdateBatch('exempt_exes', keys, Buffer.alloc(added.length, 1), added.length);
      }
    } catch (e) {
      // the kernel map is in between: forget what user space believed so the next call rewrites it all
      this.exempt.clear();
      throw new HiveError(`${op}: ${describe(e)}`);
    }
    this.exempt.clear();
    for (const [k, r] of wanted) this.exempt.set(k, r);
  }

  /** The exempt executables (user-space view). */
  get exemptExecutables(): InodeRef[] {
    return [...this.exempt.values()];
  }

  /** The watch an inode is in, if any (user-space view). */
  lookup(ref: InodeRef): { watchId: number } | undefined {
    const watchId = this.watched.get(`${ref.dev}:${ref.ino}`);
    return watchId === undefined ? undefined : { watchId };
  }

  get watchedCount(): number {
    return this.watched.size;
  }

  /** Entries actually in the kernel map (walks it: for tests and status). */
  kernelWatchedCount(): number {
    return this.live('count').mapCount('watched');
  }

  /** Entries actually in the kernel's scoped-stop map (walks it: for tests). */
  kernelScopeCount(): number {
    return this.live('count').mapCount('watch_scopes');
  }

  /**
   * The kernel's per-CPU counters summed over CPUs (`dropped` records and the
   * `lost` accesses in them; `aggregated` repeats and the `flushed` records
   * that carried them; `aggFull` accesses reported one by one for want of
   * room), `exempt` accesses a watch would have stopped that an exemption
   * (the loader itself, the exempt mount namespace, an exempt executable) let
   * through as allowed, records the decoder refused, ring-buffer poll and flush failures,
   * batches lost to a throw in their decoding or handler.
   */
  counters(): Record<CounterName | 'malformed' | 'pollErrors' | 'flushErrors' | 'handlerErrors', number> {
    return { ...readCounters(this.live('counters'), 'counters', COUNTER), malformed: this.malformed, pollErrors: this.poll?.errors ?? 0, flushErrors: this.flushErrors, handlerErrors: this.handlerErrors };
  }

  /**
   * Ends the aggregation interval now: the kernel writes every key's folded
   * repeats as one record with `count` and forgets keys idle for a whole
   * interval. Runs by itself every interval; tests and close() call it too.
   */
  flush(): void {
    if (!this.aggregation.on || !this.obj) return;
    try {
      this.obj.testRun(FLUSH_PROGRAM, FileAccessMonitor.FLUSH_ARG);
    } catch (e) {
      // counted and logged once per failure; the counts stay in the map for the next one
      this.flushErrors++;
      this.log.error({ err: describe(e) }, 'aggregate flush failed');
    }
  }

  /** Starts the ring-buffer thread (once); cb gets each batch of decoded events. */
  onEvents(cb: (events: RawFileEvent[]) => void, pollTimeoutMs = 100): void {
    this.onRecords((r) => cb(decodeRecords(r)), pollTimeoutMs);
  }

  /**
   * Starts the ring-buffer thread (once); cb gets each batch's file events
   * undecoded, joined with their lineage (the agent's pipeline reads the
   * fields it needs where they are).
   */
  onRecords(cb: (records: FileRecords) => void, pollTimeoutMs = 100): void {
    const obj = this.live('onEvents');
    if (this.poll) throw new HiveError('onEvents: events are delivered already');
    const onBatch = (batch: Buffer) => {
      // a throw here would reach the addon's thread-safe call as an uncaught
      // exception: the batch is lost instead, counted and logged with its cause
      try {
        const { records, malformed } = splitBatch(batch, this.processes);
        this.malformed += malformed;
        cb(records);
      } catch (e) {
        this.handlerErrors++;
        this.log.error({ err: e }, 'event batch failed: its records are lost (counted in hive_pipeline_errors)');
      }
    };
    this.poll = new RingPoll(obj, 'events', onBatch, this.log, pollTimeoutMs);
  }

  /**
   * Makes `into` (opened, not loaded) use this monitor's own map `name`: how
   * the benchmarks' generator (bench/generator.ts) writes into the hook's
   * ring buffer and counters, so that what they measure is this consumer.
   */
  shareMap(name: 'events' | 'counters', into: NativeBpfObject): void {
    into.reuseMap(name, this.live('shareMap'), name);
  }

  close(): void {
    if (!this.obj) return;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flush(); // folded counts to the ring while it is still read
    const obj = this.obj;
    this.obj = null;
    this.poll?.stop();
    obj.close();
    this.watched.clear();
    this.scoped.clear();
    this.scopeEntries = 0;
    this.exempt.clear();
  }
}
