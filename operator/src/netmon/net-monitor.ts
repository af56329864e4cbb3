// The pod network monitor as one closeable object: open -> configure ->
// load -> attach the connect tracepoint; then pods, cluster CIDRs and
// interfaces are added and removed while it runs. Flow events come from the
// kernel (new, blocked, closed, interval) and from a user-space sweep of the
// flow map (idle flows, and every open flow when a pod leaves or the monitor
// closes), all through one callback. close() detaches the TC filters, then
// the links, then the object (the addon does it in that order).
import { Logger, log as rootLog } from '../util/log';
import { HiveError } from '../util/errors';
import { checkInt } from '../util/int';
import { NativeBpfObject, RingPoll, bpfObjectPath, describeNativeError as describe, native, readCounters } from '../bpf/native';
import { checkCapabilities, checkKernelBtf, customBtfPath, ensureTracefs } from '../bpf/environment';
import { ProcessTable } from '../bpf/process-table';
import { Cidr } from './addr';
import {
  FLOW,
  FLOW_FLAG,
  FLOW_KEY,
  NET_COUNTER,
  NetCounterName,
  EVENT_CODE,
  REASON_CODE,
  RawNetEvent,
  decodeFlow,
  decodeFlowKey,
  decodeNetBatch,
  joinLineage,
  encodeCidrKey,
  encodeFlowKey,
  encodePod,
} from './layout';

export const DEFAULT_MAX_FLOWS = 65536;
export const DEFAULT_MAX_PODS = 4096;
export const DEFAULT_NET_RING_BYTES = 4 << 20;
export const DEFAULT_SUMMARY_INTERVAL_MS = 10_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** TC filter priority asked for first: 1 runs ahead of the usual filters. */
export const DEFAULT_TC_PRIORITY = 1;
/** Forgets a process on exec (bpf/lineage.bpf.h), so connects after it name the new executable. */
const LINEAGE_PROGRAM = 'hive_proc_exec';
/** An ended TCP flow stays this long for its last packets, then goes silently. */
const ENDED_LINGER_NS = 5e9;

export interface NetMonitorOptions {
  maxFlows?: number;
  maxPods?: number;
  ringBufferBytes?: number;
  /** A live flow's summary at most this often (0: only when it ends). */
  summaryIntervalMs?: number;
  /** A flow without packets for this long is reported (reason idle) and forgotten. */
  idleTimeoutMs?: number;
  /** Preference of our TC filters (lower runs first); taken → the kernel picks one. */
  tcPriority?: number;
  objectPath?: string;
  log?: Logger;
}

type Validated = Required<Omit<NetMonitorOptions, 'objectPath' | 'log'>>;

function validate(o: NetMonitorOptions): Validated {
  const int = (name: string, v: number | undefined, dflt: number, min: number, max: number) => checkInt(name, v ?? dflt, min, max);
  const ring = int('ring buffer size', o.ringBufferBytes, DEFAULT_NET_RING_BYTES, 4096, 1 << 30);
  if ((ring & (ring - 1)) !== 0) throw new HiveError(`ring buffer size must be a power of two, got ${ring}`);
  return {
    maxFlows: int('max flows', o.maxFlows, DEFAULT_MAX_FLOWS, 16, 1 << 22),
    maxPods: int('max pods', o.maxPods, DEFAULT_MAX_PODS, 1, 1 << 20),
    ringBufferBytes: ring,
    summaryIntervalMs: int('summary interval (ms)', o.summaryIntervalMs, DEFAULT_SUMMARY_INTERVAL_MS, 0, 86_400_000),
    idleTimeoutMs: int('idle timeout (ms)', o.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS, 1000, 86_400_000),
    tcPriority: int('tc priority', o.tcPriority, DEFAULT_TC_PRIORITY, 0, 65535),
  };
}

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

interface Attached {
  name: string;
  filters: number[];
}

export class NetMonitor {
  private obj: NativeBpfObject | null;
  private readonly pods = new Map<string, { watchId: number; flags: number }>();
  private readonly cidrs = new Map<string, Cidr>();
  private readonly ifaces = new Map<number, Attached>();
  private cb: ((events: RawNetEvent[]) => void) | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private malformed = 0;
  /** Batches whose decoding or handler threw (their events are lost). */
  private handlerErrors = 0;
  private poll: RingPoll | null = null;
  /** The connecting processes' records (exe, ancestors), by tgid: netmon's own. */
  readonly processes = new ProcessTable();

  private constructor(
    obj: NativeBpfObject,
    readonly options: Validated,
    private readonly log: Logger,
  ) {
    this.obj = obj;
  }

  static open(options: NetMonitorOptions = {}): NetMonitor {
    const o = validate(options);
    const log = (options.log ?? rootLog).child({ module: 'netmon' });
    checkCapabilities();
    checkKernelBtf();
    ensureTracefs();
    const path = options.objectPath ?? bpfObjectPath('netmon');
    // open
    let obj: NativeBpfObject;
    try {
      obj = new (native().BpfObject)(path, customBtfPath());
    } catch (e) {
      throw new HiveError(`cannot open BPF object: ${describe(e)} (run 'make build')`);
    }
    try {
      // configure
      obj.setMaxEntries('flows', o.maxFlows);
      obj.setMaxEntries('pods', o.maxPods);
      obj.setMaxEntries('net_events', o.ringBufferBytes);
      obj.setRodata('summary_interval_ns', u64(o.summaryIntervalMs * 1e6));
      obj.setAutoload(LINEAGE_PROGRAM, true);
      // load
      try {
        obj.load();
      } catch (e) {
        throw new HiveError(`cannot load the network monitor: ${describe(e)}`);
      }
      // attach: only the connect tracepoint; TC filters go on per interface
      try {
        obj.attach('hive_tp_connect');
      } catch (e) {
        throw new HiveError(`cannot attach the TCP connect tracepoint: ${describe(e)}`);
      }
      try {
        obj.attach(LINEAGE_PROGRAM);
      } catch (e) {
        log.warn({ program: LINEAGE_PROGRAM, err: describe(e) }, 'exec tracepoint not attached: connects after an exec keep the executable from before it');
      }
    } catch (e) {
      obj.close();
      throw e;
    }
    return new NetMonitor(obj, o, log);
  }

  private live(op: string): NativeBpfObject {
    if (!this.obj) throw new HiveError(`${op}: the network monitor is closed`);
    return this.obj;
  }

  /** Selects a pod address (16-byte form) with HIVE_NET_* flags, or changes its flags. */
  setPod(addr: Buffer, watchId: number, flags: number): void {
    const obj = this.live('setPod');
    const k = addr.toString('hex');
    if (!this.pods.has(k) && this.pods.size >= this.options.maxPods) {
      throw new HiveError(`too many monitored pod addresses: at most ${this.options.maxPods}`);
    }
    obj.mapUpdate('pods', addr, encodePod(watchId, flags), 0);
    this.pods.set(k, { watchId, flags });
  }

  /** Unselects a pod address: its open flows are reported (reason stopped) and forgotten. */
  removePod(addr: Buffer): boolean {
    const obj = this.live('removePod');
    const k = addr.toString('hex');
    if (!this.pods.delete(k)) return false;
    obj.mapDelete('pods', addr);
    this.sweepFlows(REASON_CODE.stopped, (key) => key.equals(addr));
    return true;
  }

  get podCount(): number {
    return this.pods.size;
  }

  /** Makes the cluster CIDR set exactly `cidrs` (adds the new, removes the gone). */
  setClusterCidrs(cidrs: Cidr[]): void {
    const obj = this.live('setClusterCidrs');
    const want = new Map(cidrs.map((c) => [c.text, c]));
    for (const [text, c] of this.cidrs) {
      if (want.has(text)) continue;
      obj.mapDelete('cluster_cidrs', encodeCidrKey(c.addr, c.prefixLen));
      this.cidrs.delete(text);
    }
    for (const [text, c] of want) {
      if (this.cidrs.has(text)) continue;
      obj.mapUpdate('cluster_cidrs', encodeCidrKey(c.addr, c.prefixLen), Buffer.from([1]), 0);
      this.cidrs.set(text, c);
    }
  }

  get clusterCidrs(): string[] {
    return [...this.cidrs.keys()];
  }

  /** Puts the TC programs on both directions of a host-side pod interface. */
  attachInterface(ifindex: number, name: string): void {
    const obj = this.live('attachInterface');
    if (this.ifaces.has(ifindex)) return;
    const filters: number[] = [];
    try {
      filters.push(obj.tcAttach('hive_tc_from_pod', ifindex, true, this.options.tcPriority).id);
      filters.push(obj.tcAttach('hive_tc_to_pod', ifindex, false, this.options.tcPriority).id);
    } catch (e) {
      for (const id of filters) obj.tcDetach(id);
      throw new HiveError(`cannot attach to interface ${name} (ifindex ${ifindex}): ${describe(e)}`);
    }
    this.ifaces.set(ifindex, { name, filters });
    this.log.debug({ interface: name, ifindex }, 'attached');
  }

  /** Removes our filters (a vanished interface took them with it). */
  detachInterface(ifindex: number): boolean {
    const obj = this.live('detachInterface');
    const a = this.ifaces.get(ifindex);
    if (!a) return false;
    this.ifaces.delete(ifindex);
    for (const id of [...a.filters].reverse()) {
      try {
        obj.tcDetach(id);
      } catch (e) {
        this.log.warn({ interface: a.name, err: describe(e) }, 'cannot detach filter');
      }
    }
    this.log.debug({ interface: a.name, ifindex }, 'detached');
    return true;
  }

  /** The name of an interface with our filters (events carry only its index). */
  interfaceName(ifindex: number): string | undefined {
    return this.ifaces.get(ifindex)?.name;
  }

  /** ifindex -> interface name of every interface with our filters. */
  interfaces(): Map<number, string> {
    return new Map([...this.ifaces].map(([i, a]) => [i, a.name]));
  }

  /**
   * Starts delivering events: the ring-buffer thread, and a sweep of idle
   * flows every few seconds. cb gets batches of decoded events.
   */
  onEvents(cb: (events: RawNetEvent[]) => void, pollTimeoutMs = 100): void {
    const obj = this.live('onEvents');
    if (this.poll) throw new HiveError('onEvents: events are delivered already');
    const onBatch = (batch: Buffer) => {
      // as the file monitor: a throw in decoding loses the batch, counted, never an uncaught exception
      try {
        const { events, malformed } = decodeNetBatch(batch, this.processes);
        this.malformed += malformed;
        this.deliver(events);
      } catch (e) {
        this.handlerErrors++;
        this.log.error({ err: e }, 'network event batch failed: its records are lost (counted in hive_pipeline_errors)');
      }
    };
    this.poll = new RingPoll(obj, 'net_events', onBatch, this.log, pollTimeoutMs);
    this.cb = cb;
    const every = Math.min(5000, Math.max(500, this.options.idleTimeoutMs / 2));
    this.sweeper = setInterval(() => this.sweepIdle(), every);
    this.sweeper.unref();
  }

  private deliver(events: RawNetEvent[]): void {
    if (!this.cb || events.length === 0) return;
    try {
      this.cb(events);
    } catch (e) {
      this.handlerErrors++;
      this.log.error({ err: e }, 'network event handler failed: its events are lost (counted in hive_pipeline_errors)');
    }
  }

  /** Reports flows idle past the timeout and forgets them and ended flows. */
  sweepIdle(nowNs = Number(process.hrtime.bigint())): void {
    if (!this.obj) return;
    const idleNs = this.options.idleTimeoutMs * 1e6;
    this.sweepFlows(REASON_CODE.idle, () => true, (flow) => {
      const idle = nowNs - flow.lastNs;
      if (flow.flags & FLOW_FLAG.ended) return idle > ENDED_LINGER_NS ? 'forget' : 'keep';
      return idle > idleNs ? 'report' : 'keep';
    });
  }

  /**
   * Walks the flow map; flows of pods `podMatch` accepts are reported with
   * `reason` and deleted, unless `decide` says keep (or forget silently).
   */
  private sweepFlows(
    reason: number,
    podMatch: (podAddr: Buffer) => boolean,
    decide: (flow: ReturnType<typeof decodeFlow>) => 'report' | 'forget' | 'keep' = (f) =>
      f.flags & FLOW_FLAG.ended ? 'forget' : 'report',
  ): void {
    const obj = this.obj!;
    const { keys, values, count } = obj.mapEntries('flows', this.options.maxFlows);
    const out: RawNetEvent[] = [];
    const now = Number(process.hrtime.bigint());
    for (let i = 0; i < count; i++) {
      const key = decodeFlowKey(keys, i * FLOW_KEY.size);
      if (!podMatch(key.podAddr)) continue;
      const flow = decodeFlow(values, i * FLOW.size);
      const what = decide(flow);
      if (what === 'keep') continue;
      obj.mapDelete('flows', encodeFlowKey(key));
      if (what !== 'report') continue;
      const e: RawNetEvent = { tsNs: now, type: EVENT_CODE.summary, reason, ifindex: 0, key, flow };
      joinLineage(e, this.processes);
      out.push(e);
    }
    this.deliver(out);
  }

  /** The kernel's per-CPU counters summed, records the decoder refused, and ring-buffer poll failures. */
  counters(): Record<NetCounterName | 'malformed' | 'pollErrors' | 'handlerErrors', number> {
    return { ...readCounters(this.live('counters'), 'net_counters', NET_COUNTER), malformed: this.malformed, pollErrors: this.poll?.errors ?? 0, handlerErrors: this.handlerErrors };
  }

  /** Live entries of the flow map (walks it: for tests and status). */
  flowCount(): number {
    return this.live('flowCount').mapCount('flows');
  }

  /** Runs a TC program on a packet with BPF_PROG_TEST_RUN (tests, benchmarks). */
  testRun(direction: 'from-pod' | 'to-pod', packet: Buffer, repeat = 1): { retval: number; nsPerRun: number } {
    const prog = direction === 'from-pod' ? 'hive_tc_from_pod' : 'hive_tc_to_pod';
    return this.live('testRun').testRunPacket(prog, packet, repeat);
  }

  /**
   * Detaches every interface, reports the flows still open (reason stopped),
   * then releases the object. Idempotent.
   */
  close(): void {
    if (!this.obj) return;
    const obj = this.obj;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const ifindex of [...this.ifaces.keys()].reverse()) this.detachInterface(ifindex);
    this.poll?.stop();
    try {
      this.sweepFlows(REASON_CODE.stopped, () => true);
    } catch (e) {
      this.log.warn({ err: describe(e) }, 'cannot report open flows at close');
    }
    this.obj = null;
    obj.close();
    this.cb = null;
  }
}

