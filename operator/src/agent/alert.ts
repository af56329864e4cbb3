// The correlation alert (DESIGN.md: kind "alert", with the file event and the
// flow it joins) and its one-line form for --pretty and `hive logs`.
import type { FileEventRecord } from '../fileaccess/file-event';
import type { NetEventRecord } from '../netmon/net-event';
import type { TraceKey } from './keys';
import { printable } from '../output/printable';

export interface AlertRecord {
  time: string;
  node: string;
  kind: 'alert';
  alert: 'read-then-egress';
  trace: TraceKey;
  pod: { namespace: string; name: string; uid: string };
  withinSeconds: number;
  /** From the read to the connection's first packet. */
  delay_ms: number;
  /** Reads of watched files in the window (the file event is the last before the connection). */
  reads: number;
  file: FileEventRecord;
  flow: NetEventRecord;
  /** The block this alert started or extended (spec.correlate.block). */
  block?: { since: string; until: string };
}

function endpoint(p: { ip: string; port?: number }): string {
  if (p.port === undefined) return p.ip;
  return p.ip.includes(':') ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`;
}

/** Time, what, who read what, then where it connected, and the block. */
export function prettyAlertLine(a: AlertRecord): string {
  const t = a.time.slice(11, 23);
  const p = a.file.process;
  const reads = a.reads > 1 ? ` (${a.reads} reads)` : '';
  const block = a.block ? `; external egress blocked until ${a.block.until}` : '';
  return printable(`${t} ALERT          read-then-egress pod=${a.pod.namespace}/${a.pod.name}: ${p.comm}[${p.tgid}] read ${a.file.path}${reads}, ${a.delay_ms} ms later ${a.flow.proto} ${endpoint(a.flow.src)} -> ${endpoint(a.flow.dst)} ${a.flow.scope} ${a.flow.verdict}${block}`);
}
