// `hive logs` rendering: one line of an agent's log stream (kubectl logs mixes
// its stdout events and its stderr pino logs) -> the --pretty form of the
// event, or null for lines that are not events or that the filters drop.
import { FileEventRecord, prettyLine } from '../fileaccess/file-event';
import { NetEventRecord, prettyNetLine } from '../netmon/net-event';
import { AlertRecord, prettyAlertLine } from '../agent/alert';
import { printable } from '../output/printable';

export interface LogFilter {
  kind?: 'file' | 'network' | 'alert';
  /** "namespace/name" or "name" of the audited pod */
  pod?: string;
  /** "namespace/name" or "name" of the trace */
  trace?: string;
  /** Print the matching events as they are (JSON) instead of rendering them. */
  json?: boolean;
}

function matches(ref: { namespace?: string; name?: string } | undefined, want: string | undefined): boolean {
  if (!want) return true;
  if (!ref?.name) return false;
  return want.includes('/') ? `${ref.namespace}/${ref.name}` === want : ref.name === want;
}

export function renderAgentLine(line: string, f: LogFilter = {}): string | null {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  let rec: FileEventRecord | NetEventRecord | AlertRecord;
  try {
    rec = JSON.parse(text) as FileEventRecord | NetEventRecord | AlertRecord;
  } catch {
    return null;
  }
  if (rec.kind !== 'file' && rec.kind !== 'network' && rec.kind !== 'alert') return null; // the agent's own logs
  if (f.kind && rec.kind !== f.kind) return null;
  if (!matches(rec.pod, f.pod) || !matches(rec.trace, f.trace)) return null;
  if (f.json) return text;
  // the renderers escape what they print; the node's name is the line's own
  return `${printable(String(rec.node))} ${rec.kind === 'network' ? prettyNetLine(rec) : rec.kind === 'alert' ? prettyAlertLine(rec) : prettyLine(rec)}`;
}
