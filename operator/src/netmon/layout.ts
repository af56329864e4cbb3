// User-space mirror of the network structs and enums in bpf/include/hive.h,
// checked against bpf/netmon.bpf.o's BTF by netmon/layout.test.ts.
import { EnumDefs, StructDef, byCode, cString, forEachRecord } from '../bpf/records';
import { Ancestor, LineageSink, PROC_FLAG, PROC_RECORD, decodeProcRecord } from '../bpf/proc-record';

/** enum hive_net_flag: what is asked for a pod. */
export const NET_FLAG = { monitor: 0x1, blockExternal: 0x2 } as const;
/** enum hive_flow_flag */
export const FLOW_FLAG = { finTx: 0x1, finRx: 0x2, rst: 0x4, ended: 0x8, blockReported: 0x10, hasProcess: 0x20 } as const;
/** enum hive_net_scope, hive_net_verdict, hive_net_initiator: codes, and names by code. */
export const SCOPE_CODE = { cluster: 1, external: 2 } as const;
export const SCOPE = byCode(SCOPE_CODE);
export const VERDICT_CODE = { allowed: 1, blocked: 2 } as const;
export const VERDICT = byCode(VERDICT_CODE);
export const INITIATOR_CODE = { egress: 1, ingress: 2 } as const;
export const INITIATOR = byCode(INITIATOR_CODE);
/** enum hive_net_event_type */
export const EVENT_CODE = { new: 1, blocked: 2, summary: 3 } as const;
export const EVENT_TYPE = byCode(EVENT_CODE);
/** enum hive_net_reason (0: none, not reported) */
export const REASON_NONE = 0;
export const REASON_CODE = { interval: 1, closed: 2, idle: 3, stopped: 4 } as const;
export const REASON: Record<number, string | undefined> = byCode(REASON_CODE);
/** enum hive_net_counter */
export const NET_COUNTER = { packets: 0, flows: 1, emitted: 2, dropped: 3, blocked: 4, flowFail: 5 } as const;
export const NET_COUNTER_MAX = 6;
export type NetCounterName = keyof typeof NET_COUNTER;
export const PROTO: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

type Layout = StructDef;

export const POD_KEY = { size: 16, fields: { addr: { offset: 0, size: 16 } } } as const;
export const POD = { size: 8, fields: { watch_id: { offset: 0, size: 4 }, flags: { offset: 4, size: 4 } } } as const;
export const CIDR_KEY = { size: 20, fields: { prefixlen: { offset: 0, size: 4 }, addr: { offset: 4, size: 16 } } } as const;
export const FLOW_KEY = {
  size: 40,
  fields: {
    pod_addr: { offset: 0, size: 16 },
    peer_addr: { offset: 16, size: 16 },
    pod_port: { offset: 32, size: 2 },
    peer_port: { offset: 34, size: 2 },
    proto: { offset: 36, size: 1 },
    pad: { offset: 37, size: 3 },
  },
} as const;
export const FLOW = {
  size: 112,
  fields: {
    first_ns: { offset: 0, size: 8 },
    last_ns: { offset: 8, size: 8 },
    report_ns: { offset: 16, size: 8 },
    tx_packets: { offset: 24, size: 8 },
    tx_bytes: { offset: 32, size: 8 },
    rx_packets: { offset: 40, size: 8 },
    rx_bytes: { offset: 48, size: 8 },
    blocked: { offset: 56, size: 8 },
    flags: { offset: 64, size: 8 },
    watch_id: { offset: 72, size: 4 },
    pid: { offset: 76, size: 4 },
    tgid: { offset: 80, size: 4 },
    uid: { offset: 84, size: 4 },
    initiator: { offset: 88, size: 1 },
    scope: { offset: 89, size: 1 },
    verdict: { offset: 90, size: 1 },
    pad: { offset: 91, size: 5 },
    comm: { offset: 96, size: 16 },
  },
} as const;
export const CONNECT_KEY = {
  size: 40,
  fields: {
    saddr: { offset: 0, size: 16 },
    daddr: { offset: 16, size: 16 },
    dport: { offset: 32, size: 2 },
    pad: { offset: 34, size: 2 },
    pad2: { offset: 36, size: 4 },
  },
} as const;
export const CONNECT = {
  size: 40,
  fields: {
    ts_ns: { offset: 0, size: 8 },
    pid: { offset: 8, size: 4 },
    tgid: { offset: 12, size: 4 },
    uid: { offset: 16, size: 4 },
    pad: { offset: 20, size: 4 },
    comm: { offset: 24, size: 16 },
  },
} as const;
export const NET_EVENT = {
  size: 168,
  fields: {
    ts_ns: { offset: 0, size: 8 },
    type: { offset: 8, size: 1 },
    reason: { offset: 9, size: 1 },
    pad: { offset: 10, size: 2 },
    ifindex: { offset: 12, size: 4 },
    key: { offset: 16, size: 40 },
    flow: { offset: 56, size: 112 },
  },
} as const;

/** The values above under their C names, checked against the object's BTF (layout.test.ts). */
export const NET_ENUMS: EnumDefs = {
  hive_net_flag: { HIVE_NET_MONITOR: NET_FLAG.monitor, HIVE_NET_BLOCK_EXTERNAL: NET_FLAG.blockExternal },
  hive_flow_flag: {
    HIVE_FLOW_FIN_TX: FLOW_FLAG.finTx,
    HIVE_FLOW_FIN_RX: FLOW_FLAG.finRx,
    HIVE_FLOW_RST: FLOW_FLAG.rst,
    HIVE_FLOW_ENDED: FLOW_FLAG.ended,
    HIVE_FLOW_BLOCK_REPORTED: FLOW_FLAG.blockReported,
    HIVE_FLOW_HAS_PROCESS: FLOW_FLAG.hasProcess,
  },
  hive_net_scope: { HIVE_SCOPE_CLUSTER: SCOPE_CODE.cluster, HIVE_SCOPE_EXTERNAL: SCOPE_CODE.external },
  hive_net_verdict: { HIVE_VERDICT_ALLOWED: VERDICT_CODE.allowed, HIVE_VERDICT_BLOCKED: VERDICT_CODE.blocked },
  hive_net_initiator: { HIVE_INIT_POD: INITIATOR_CODE.egress, HIVE_INIT_PEER: INITIATOR_CODE.ingress },
  hive_net_event_type: { HIVE_NET_NEW: EVENT_CODE.new, HIVE_NET_BLOCKED: EVENT_CODE.blocked, HIVE_NET_SUMMARY: EVENT_CODE.summary },
  hive_net_reason: {
    HIVE_REASON_NONE: REASON_NONE,
    HIVE_REASON_INTERVAL: REASON_CODE.interval,
    HIVE_REASON_CLOSED: REASON_CODE.closed,
    HIVE_REASON_IDLE: REASON_CODE.idle,
    HIVE_REASON_STOPPED: REASON_CODE.stopped,
  },
  // the process records of connecting tasks (bpf/lineage.bpf.h)
  hive_proc_flag: { HIVE_PROC_NO_EXE: PROC_FLAG.noExe, HIVE_PROC_EXE_TRUNCATED: PROC_FLAG.truncated },
  hive_net_counter: {
    HIVE_NCNT_PACKETS: NET_COUNTER.packets,
    HIVE_NCNT_FLOWS: NET_COUNTER.flows,
    HIVE_NCNT_EMITTED: NET_COUNTER.emitted,
    HIVE_NCNT_DROPPED: NET_COUNTER.dropped,
    HIVE_NCNT_BLOCKED: NET_COUNTER.blocked,
    HIVE_NCNT_FLOW_FAIL: NET_COUNTER.flowFail,
    HIVE_NCNT_MAX: NET_COUNTER_MAX,
  },
};

/** Every network struct the layout check compares, by its C name. */
export const NET_STRUCTS: Record<string, Layout> = {
  hive_pod_key: POD_KEY,
  hive_pod: POD,
  hive_cidr_key: CIDR_KEY,
  hive_flow_key: FLOW_KEY,
  hive_flow: FLOW,
  hive_connect_key: CONNECT_KEY,
  hive_connect: CONNECT,
  hive_net_event: NET_EVENT,
  hive_proc_record: PROC_RECORD,
};

export interface FlowKey {
  podAddr: Buffer;
  peerAddr: Buffer;
  podPort: number;
  peerPort: number;
  proto: number;
}

/** The connecting process; exe and ancestors from its process record, when one was decoded. */
export interface FlowProcess {
  pid: number;
  tgid: number;
  uid: number;
  comm: string;
  exe?: string;
  ancestors?: Ancestor[];
}

export interface Flow {
  firstNs: number;
  lastNs: number;
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  blocked: number;
  flags: number;
  watchId: number;
  /** Set when the kernel attributed a TCP connect to a process. */
  process?: FlowProcess;
  initiator: number;
  scope: number;
  verdict: number;
}

export interface RawNetEvent {
  tsNs: number;
  type: number;
  reason: number;
  ifindex: number;
  key: FlowKey;
  flow: Flow;
}

export function decodeFlowKey(b: Buffer, at = 0): FlowKey {
  const f = FLOW_KEY.fields;
  return {
    podAddr: Buffer.from(b.subarray(at + f.pod_addr.offset, at + f.pod_addr.offset + 16)),
    peerAddr: Buffer.from(b.subarray(at + f.peer_addr.offset, at + f.peer_addr.offset + 16)),
    podPort: b.readUInt16LE(at + f.pod_port.offset),
    peerPort: b.readUInt16LE(at + f.peer_port.offset),
    proto: b.readUInt8(at + f.proto.offset),
  };
}

export function encodeFlowKey(k: FlowKey): Buffer {
  const f = FLOW_KEY.fields;
  const b = Buffer.alloc(FLOW_KEY.size);
  k.podAddr.copy(b, f.pod_addr.offset);
  k.peerAddr.copy(b, f.peer_addr.offset);
  b.writeUInt16LE(k.podPort, f.pod_port.offset);
  b.writeUInt16LE(k.peerPort, f.peer_port.offset);
  b.writeUInt8(k.proto, f.proto.offset);
  return b;
}

export function decodeFlow(b: Buffer, at = 0): Flow {
  const f = FLOW.fields;
  const u64 = (o: number) => Number(b.readBigUInt64LE(at + o));
  const flags = u64(f.flags.offset);
  const flow: Flow = {
    firstNs: u64(f.first_ns.offset),
    lastNs: u64(f.last_ns.offset),
    txPackets: u64(f.tx_packets.offset),
    txBytes: u64(f.tx_bytes.offset),
    rxPackets: u64(f.rx_packets.offset),
    rxBytes: u64(f.rx_bytes.offset),
    blocked: u64(f.blocked.offset),
    flags,
    watchId: b.readUInt32LE(at + f.watch_id.offset),
    initiator: b.readUInt8(at + f.initiator.offset),
    scope: b.readUInt8(at + f.scope.offset),
    verdict: b.readUInt8(at + f.verdict.offset),
  };
  if (flags & FLOW_FLAG.hasProcess) {
    flow.process = {
      pid: b.readUInt32LE(at + f.pid.offset),
      tgid: b.readUInt32LE(at + f.tgid.offset),
      uid: b.readUInt32LE(at + f.uid.offset),
      comm: cString(b, at + f.comm.offset, f.comm.size),
    };
  }
  return flow;
}

export function decodeNetEvent(b: Buffer, at = 0): RawNetEvent {
  const f = NET_EVENT.fields;
  return {
    tsNs: Number(b.readBigUInt64LE(at + f.ts_ns.offset)),
    type: b.readUInt8(at + f.type.offset),
    reason: b.readUInt8(at + f.reason.offset),
    ifindex: b.readUInt32LE(at + f.ifindex.offset),
    key: decodeFlowKey(b, at + f.key.offset),
    flow: decodeFlow(b, at + f.flow.offset),
  };
}

/** Adds the exe and ancestors of the flow's process from `procs`, when it has that process. */
export function joinLineage(e: RawNetEvent, procs: LineageSink): void {
  const p = e.flow.process;
  const l = p && procs.lineage(p.tgid);
  if (l) e.flow.process = { ...p, exe: l.exe, ancestors: l.ancestors };
}

/**
 * Splits a ring-buffer batch: flow events, and process records (told apart
 * by their length) into `procs`, in ring order, so that a flow's first event
 * is joined with the records its connect wrote before it. Without `procs`,
 * process records are skipped.
 */
export function decodeNetBatch(batch: Buffer, procs?: LineageSink): { events: RawNetEvent[]; malformed: number } {
  const events: RawNetEvent[] = [];
  const malformed = forEachRecord(batch, (len, at) => {
    if (len === NET_EVENT.size) {
      const e = decodeNetEvent(batch, at);
      if (procs) joinLineage(e, procs);
      events.push(e);
      return true;
    }
    if (len !== PROC_RECORD.size) return false;
    procs?.add(decodeProcRecord(batch, at));
    return true;
  });
  return { events, malformed };
}

export function encodePod(watchId: number, flags: number): Buffer {
  const b = Buffer.alloc(POD.size);
  b.writeUInt32LE(watchId, POD.fields.watch_id.offset);
  b.writeUInt32LE(flags, POD.fields.flags.offset);
  return b;
}

export function encodeCidrKey(addr: Buffer, prefixLen: number): Buffer {
  const b = Buffer.alloc(CIDR_KEY.size);
  b.writeUInt32LE(prefixLen, CIDR_KEY.fields.prefixlen.offset);
  addr.copy(b, CIDR_KEY.fields.addr.offset);
  return b;
}
