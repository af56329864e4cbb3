// Raw flow events -> DESIGN.md's network event (one JSON object per line),
// and the one-line form of --pretty.
import os from 'node:os';
import { Clock } from '../output/clock';
import { formatIp } from './addr';
import { chainText } from '../output/process-chain';
import { EVENT_TYPE, FlowProcess, INITIATOR, PROTO, REASON, RawNetEvent, SCOPE, VERDICT } from './layout';
import { printable } from '../output/printable';

export interface Endpoint {
  ip: string;
  port?: number;
}

export interface NetEventRecord {
  time: string;
  node: string;
  kind: 'network';
  /** new: a flow's first packet; blocked: a flow's first dropped packet; summary: counters so far. */
  event: 'new' | 'blocked' | 'summary';
  /** Why a summary was written: interval, closed (FIN both ways or RST), idle, stopped. */
  reason?: string;
  trace?: { namespace: string; name: string };
  pod: { namespace?: string; name?: string; uid?: string; ip: string };
  /** The side that sent the flow's first packet is src. */
  src: Endpoint;
  dst: Endpoint;
  proto: string;
  verdict: 'allowed' | 'blocked';
  scope: 'cluster' | 'external';
  /** egress: the pod opened the flow; ingress: the other end did. */
  direction: 'egress' | 'ingress';
  /**
   * The connecting process, for TCP connects the pod made (inbound and UDP
   * flows have none). exe: its executable (the kernel's mm->exe_file) as it
   * sees it; ancestors: parent first, {pid, comm, exe}, up to its pid
   * namespace's init or 4; both absent when its process record was not seen.
   */
  process?: FlowProcess;
  /** Both directions together; tx is what the pod sent, rx what it received. */
  packets: number;
  bytes: number;
  tx: { packets: number; bytes: number };
  rx: { packets: number; bytes: number };
  /** Packets dropped by block-external. */
  blocked?: number;
  interface?: string;
  duration_ms?: number;
}

/** What a pod address stands for, supplied by whoever selected it. */
export interface PodInfo {
  trace?: NetEventRecord['trace'];
  pod?: { namespace: string; name: string; uid: string };
}

export function toNetRecord(
  e: RawNetEvent,
  info: PodInfo | undefined,
  clock: Clock,
  ifname?: string,
  node = os.hostname(),
): NetEventRecord {
  const f = e.flow;
  const withPort = e.key.proto === 6 || e.key.proto === 17;
  const podEnd: Endpoint = { ip: formatIp(e.key.podAddr), ...(withPort ? { port: e.key.podPort } : {}) };
  const peerEnd: Endpoint = { ip: formatIp(e.key.peerAddr), ...(withPort ? { port: e.key.peerPort } : {}) };
  const egress = INITIATOR[f.initiator] !== 'ingress';
  const rec: NetEventRecord = {
    time: clock.toIso(e.tsNs),
    node,
    kind: 'network',
    event: EVENT_TYPE[e.type] ?? 'summary',
    pod: { ...(info?.pod ?? {}), ip: podEnd.ip },
    src: egress ? podEnd : peerEnd,
    dst: egress ? peerEnd : podEnd,
    proto: PROTO[e.key.proto] ?? `ip-${e.key.proto}`,
    verdict: VERDICT[f.verdict] ?? 'allowed',
    scope: SCOPE[f.scope] ?? 'external',
    direction: egress ? 'egress' : 'ingress',
    packets: f.txPackets + f.rxPackets,
    bytes: f.txBytes + f.rxBytes,
    tx: { packets: f.txPackets, bytes: f.txBytes },
    rx: { packets: f.rxPackets, bytes: f.rxBytes },
  };
  const reason = REASON[e.reason];
  if (reason) rec.reason = reason;
  if (info?.trace) rec.trace = info.trace;
  if (f.process) rec.process = f.process;
  if (f.blocked > 0) rec.blocked = f.blocked;
  if (ifname) rec.interface = ifname;
  if (rec.event === 'summary' && f.lastNs >= f.firstNs) rec.duration_ms = Math.round((f.lastNs - f.firstNs) / 1e6);
  return rec;
}

function endpoint(p: Endpoint): string {
  if (p.port === undefined) return p.ip;
  return p.ip.includes(':') ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`;
}

/** One readable line: time, what, the flow, counters, who. */
export function prettyNetLine(r: NetEventRecord): string {
  const t = r.time.slice(11, 23);
  const what = (r.event === 'summary' ? `END(${r.reason})` : r.event.toUpperCase()).padEnd(14);
  const pod = r.pod.name ? ` pod=${r.pod.namespace}/${r.pod.name}` : '';
  const p = r.process;
  const proc = p ? ` by ${chainText(p)}${p.exe ? ` exe=${p.exe}` : ''} uid=${p.uid}` : '';
  const blocked = r.blocked ? ` blocked=${r.blocked}` : '';
  return printable(`${t} ${what} ${r.proto} ${endpoint(r.src)} -> ${endpoint(r.dst)} ${r.scope} ${r.verdict} pkts=${r.packets} bytes=${r.bytes}${blocked}${proc}${pod}`);
}
