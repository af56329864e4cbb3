// Read-then-egress (spec.correlate): joins, per (trace, pod), a read of a
// watched file with an external connection the pod opens within the trace's
// window, in user space on the records both monitors already emit, so the
// TC program does no more than before. One alert per join window: the read
// opens it (a later read moves it on), the first external connection's first
// packet closes it with an alert. The join is per pod, not per process: a
// flow is seen on the pod's veth and carries no reliable process.
// The two monitors have their own ring buffers, so a read can reach user
// space after the connection it precedes: connections are kept a short
// while (LATE_MS) for reads that arrive late, and the join is decided on the
// events' own (kernel) times.
// With block set, an alert holds block-external on that pod's addresses
// (NetworkRegistry.hold) for block.seconds (a later alert extends it), then
// releases it; the blocks are listed in the trace's status.
import { Logger } from '../util/log';
import type { FileEventRecord } from '../fileaccess/file-event';
import type { NetEventRecord } from '../netmon/net-event';
import { NET_FLAG } from '../netmon/layout';
import { TraceKey, traceId } from './keys';
import { AlertRecord } from './alert';

export type { AlertRecord } from './alert';

export interface CorrelateSpec {
  withinSeconds: number;
  block?: { seconds: number };
}

/** One pod's external egress blocked, as status lists it. */
export interface EgressBlock {
  pod: string;
  since: string;
  until: string;
  path?: string;
  destination?: string;
}

/** Connections wait this long for a read, with an earlier time, that arrives after them. */
export const LATE_MS = 2000;
/** Connections kept per pod for late reads. */
const MAX_PENDING_FLOWS = 16;

interface PodState {
  trace: TraceKey;
  read?: { rec: FileEventRecord; t: number; reads: number };
  flows: { rec: NetEventRecord; t: number; seen: number }[];
}

interface Block extends EgressBlock {
  trace: TraceKey;
  uid: string;
  untilMs: number;
}

export interface CorrelatorOptions {
  node: string;
  /** spec.correlate of a trace (from the informer's cache); undefined: none. */
  spec: (trace: TraceKey) => CorrelateSpec | undefined;
  emit: (alert: AlertRecord) => void;
  /** Adds (flags) or releases (0) flags on a pod's addresses for a holder. */
  hold?: (podUid: string, holder: string, flags: number) => void;
  onAlert?: (trace: TraceKey) => void;
  onBlock?: (trace: TraceKey) => void;
  /** A trace's blocks changed (status). */
  onBlocksChanged?: (trace: TraceKey) => void;
  log: Logger;
  now?: () => number;
  /** How often expired reads, connections and blocks are swept (0: never; tests call sweep()). */
  sweepMs?: number;
}

export class Correlator {
  private readonly pods = new Map<string, PodState>();
  private readonly blocked = new Map<string, Block>();
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly o: CorrelatorOptions) {
    this.now = o.now ?? Date.now;
    this.log = o.log.child({ module: 'correlator' });
    const every = o.sweepMs ?? 1000;
    if (every > 0) {
      this.sweeper = setInterval(() => this.sweep(), every);
      this.sweeper.unref();
    }
  }

  /** A file event as written (after enrichment, before any rate limit). */
  /** Whether the trace correlates: the pipeline builds records of its reads only then. */
  wants(trace: TraceKey): boolean {
    return this.o.spec(trace) !== undefined;
  }

  file(rec: FileEventRecord): void {
    // a read the kernel refused (deny) or stopped (kill) read nothing: it opens no window
    if (!rec.trace || !rec.pod || !rec.access.includes('read') || (rec.verdict !== 'allowed' && rec.verdict !== 'would-deny')) return;
    // another pod's or the node's read (the kubelet's of a volume) is not this pod's: no window
    if (rec.accessor !== undefined && rec.accessor !== 'pod') return;
    const spec = this.o.spec(rec.trace);
    if (!spec) return;
    const t = Date.parse(rec.time);
    const win = spec.withinSeconds * 1000;
    const key = stateKey(rec.trace, rec.pod.uid);
    const st = this.pods.get(key) ?? { trace: rec.trace, flows: [] };
    // a connection that came in first but happened after this read (its ring buffer was polled sooner)
    const i = st.flows.findIndex((f) => f.t >= t && f.t - t <= win);
    if (i >= 0) {
      const f = st.flows[i];
      st.flows.splice(0, i + 1);
      this.alert(spec, { ...rec }, 1, f.rec, f.t - t);
      return;
    }
    if (st.read && st.read.t > t) return; // an older read, late: the window is the newer one's
    const reads = st.read && t - st.read.t <= win ? st.read.reads + 1 : 1;
    st.read = { rec: { ...rec }, t, reads };
    this.pods.set(key, st);
  }

  /** A network event as written for one trace that selects its pod. */
  flow(rec: NetEventRecord): void {
    if (rec.event !== 'new' || rec.direction !== 'egress' || rec.scope !== 'external' || !rec.trace || !rec.pod.uid) return;
    const spec = this.o.spec(rec.trace);
    if (!spec) return;
    const t = Date.parse(rec.time);
    const key = stateKey(rec.trace, rec.pod.uid);
    const st = this.pods.get(key) ?? { trace: rec.trace, flows: [] };
    const r = st.read;
    if (r && t >= r.t && t - r.t <= spec.withinSeconds * 1000) {
      st.read = undefined;
      if (!st.flows.length) this.pods.delete(key);
      this.alert(spec, r.rec, r.reads, rec, t - r.t);
      return;
    }
    st.flows.push({ rec, t, seen: this.now() });
    if (st.flows.length > MAX_PENDING_FLOWS) st.flows.shift();
    this.pods.set(key, st);
  }

  private alert(spec: CorrelateSpec, file: FileEventRecord, reads: number, flow: NetEventRecord, delayMs: number): void {
    const trace = flow.trace!;
    const pod = { namespace: trace.namespace, name: flow.pod.name ?? file.pod!.name, uid: flow.pod.uid! };
    const a: AlertRecord = {
      time: flow.time,
      node: this.o.node,
      kind: 'alert',
      alert: 'read-then-egress',
      trace,
      pod,
      withinSeconds: spec.withinSeconds,
      delay_ms: Math.max(0, Math.round(delayMs)),
      reads,
      file,
      flow,
    };
    if (spec.block && this.o.hold) a.block = this.block(trace, pod, spec.block.seconds, file.path, flow);
    this.o.emit(a);
    this.o.onAlert?.(trace);
  }

  private block(trace: TraceKey, pod: AlertRecord['pod'], seconds: number, path: string, flow: NetEventRecord): { since: string; until: string } {
    const key = stateKey(trace, pod.uid);
    const now = this.now();
    const untilMs = now + seconds * 1000;
    const destination = flow.dst.port === undefined ? flow.dst.ip : `${flow.dst.ip}:${flow.dst.port}`;
    let b = this.blocked.get(key);
    if (b) {
      b.untilMs = Math.max(b.untilMs, untilMs);
      b.until = new Date(b.untilMs).toISOString();
      b.path = path;
      b.destination = destination;
    } else {
      b = { trace, uid: pod.uid, pod: pod.name, since: new Date(now).toISOString(), until: new Date(untilMs).toISOString(), untilMs, path, destination };
      this.blocked.set(key, b);
      this.o.hold!(pod.uid, traceId(trace), NET_FLAG.blockExternal);
      this.o.onBlock?.(trace);
    }
    this.log.warn({ trace: traceId(trace), pod: `${pod.namespace}/${pod.name}`, until: b.until, path, destination }, 'external egress blocked');
    this.o.onBlocksChanged?.(trace);
    return { since: b.since, until: b.until };
  }

  private unblock(key: string, b: Block, why: string): void {
    this.blocked.delete(key);
    this.o.hold?.(b.uid, traceId(b.trace), 0);
    this.log.info({ trace: traceId(b.trace), pod: `${b.trace.namespace}/${b.pod}`, since: b.since, why }, 'external egress unblocked');
    this.o.onBlocksChanged?.(b.trace);
  }

  /** Forgets expired reads and connections; ends blocks that are due or whose trace no longer asks for them. */
  sweep(): void {
    const now = this.now();
    for (const [key, st] of this.pods) {
      const spec = this.o.spec(st.trace);
      if (st.read && (!spec || now - st.read.t > spec.withinSeconds * 1000 + LATE_MS)) st.read = undefined;
      st.flows = st.flows.filter((f) => now - f.seen <= LATE_MS);
      if (!st.read && !st.flows.length) this.pods.delete(key);
    }
    for (const [key, b] of this.blocked) {
      if (now >= b.untilMs) this.unblock(key, b, 'expired');
      else if (!this.o.spec(b.trace)?.block) this.unblock(key, b, 'no longer asked for');
    }
  }

  /** The blocks of one trace on this node, latest first. */
  blocks(trace: TraceKey): EgressBlock[] {
    const id = traceId(trace);
    return [...this.blocked.values()]
      .filter((b) => traceId(b.trace) === id)
      .sort((a, b) => b.untilMs - a.untilMs)
      .map(({ pod, since, until, path, destination }) => ({ pod, since, until, ...(path ? { path } : {}), ...(destination ? { destination } : {}) }));
  }

  get blockedPods(): number {
    return new Set([...this.blocked.values()].map((b) => b.uid)).size;
  }

  /** A deleted trace: its windows and blocks go. */
  releaseTrace(trace: TraceKey): void {
    const prefix = `${traceId(trace)}|`;
    for (const k of [...this.pods.keys()]) if (k.startsWith(prefix)) this.pods.delete(k);
    for (const [k, b] of [...this.blocked]) if (k.startsWith(prefix)) this.unblock(k, b, 'trace deleted');
  }

  /** A deleted pod: its windows and blocks go. */
  releasePod(uid: string): void {
    const suffix = `|${uid}`;
    for (const k of [...this.pods.keys()]) if (k.endsWith(suffix)) this.pods.delete(k);
    for (const [k, b] of [...this.blocked]) if (k.endsWith(suffix)) this.unblock(k, b, 'pod deleted');
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}

// "ns/name|podUid": a map key only (see keys.ts)
function stateKey(trace: TraceKey, podUid: string): string {
  return `${traceId(trace)}|${podUid}`;
}

