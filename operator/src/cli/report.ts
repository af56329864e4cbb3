// `hive report`: the access inventory of HiveTraces (status.nodes[].inventory,
// written by each node's agent) as one table across nodes, the most recently
// seen first; or as JSON. Reads the API server with the user's kubeconfig, as
// `hive logs` does.
import { HiveError, errorMessage } from '../util/errors';
import { k8sLib, loadKubeConfig } from '../kube/client';
import { GROUP, HiveTrace, PLURAL, VERSION } from '../kube/hivetrace-schema';
import { ReportOptions } from './args';
import { printable } from '../output/printable';

export interface ReportRow {
  trace: string;
  node: string;
  pod: string;
  container: string;
  exe: string;
  path: string;
  access: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  uid: number;
  /** Who accessed, when not the pod itself (host, container, pod:<namespace>/<name>). */
  accessor?: string;
}

/** Entries a node left out of its status (past its --inventory-size). */
export interface Omitted {
  trace: string;
  node: string;
  omitted: number;
}

/** Every node's inventory of every trace, as rows, the most recently seen first. */
export function inventoryRows(traces: Pick<HiveTrace, 'metadata' | 'status'>[]): { rows: ReportRow[]; omitted: Omitted[] } {
  const rows: ReportRow[] = [];
  const omitted: Omitted[] = [];
  for (const t of traces) {
    const trace = `${t.metadata.namespace}/${t.metadata.name}`;
    for (const n of t.status?.nodes ?? []) {
      if (!n.inventory) continue;
      for (const e of n.inventory.entries) rows.push({ trace, node: n.node, ...e });
      if (n.inventory.omitted > 0) omitted.push({ trace, node: n.node, omitted: n.inventory.omitted });
    }
  }
  rows.sort((a, b) => (a.lastSeen !== b.lastSeen ? (a.lastSeen < b.lastSeen ? 1 : -1) : b.count - a.count));
  return { rows, omitted };
}

/** Seconds are enough in a table: 2026-12-02T16:01:02Z. */
function shortTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

/** The table: aligned columns, TRACE only when rows come from more than one trace. */
export function renderTable(rows: ReportRow[], omitted: Omitted[]): string {
  const manyTraces = new Set(rows.map((r) => r.trace)).size > 1;
  // BY: who accessed, when some row is not the pod itself (the node, another pod)
  const by = rows.some((r) => r.accessor !== undefined);
  const head = [...(manyTraces ? ['TRACE'] : []), 'NODE', 'POD', 'CONTAINER', ...(by ? ['BY'] : []), 'EXE', 'PATH', 'ACCESS', 'COUNT', 'LAST SEEN', 'UID'];
  // a cell is what a workload or an editor named: escaped (printable), so that one row stays one line
  const cells = rows.map((r) => [...(manyTraces ? [r.trace] : []), r.node, r.pod, r.container, ...(by ? [r.accessor ?? 'pod'] : []), r.exe, r.path, r.access, String(r.count), shortTime(r.lastSeen), String(r.uid)].map(printable));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]))).join('  ');
  const out = [line(head), ...cells.map(line)];
  for (const o of omitted) out.push(printable(`(${o.omitted} less recently seen entr${o.omitted === 1 ? 'y' : 'ies'} of ${o.trace} on ${o.node} not in its status)`));
  return `${out.join('\n')}\n`;
}

export async function runReport(o: ReportOptions): Promise<number> {
  const kc = await loadKubeConfig({ userDefault: true });
  const { CustomObjectsApi } = await k8sLib();
  const custom = kc.makeApiClient(CustomObjectsApi);
  let traces: HiveTrace[];
  if (o.trace) {
    const ref = `${o.trace.namespace}/${o.trace.name}`;
    try {
      traces = [(await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, ...o.trace })) as HiveTrace];
    } catch (e) {
      if ((e as { code?: number }).code === 404) throw new HiveError(`hive report: HiveTrace ${ref} not found`, 1);
      throw new HiveError(`hive report: cannot read HiveTrace ${ref}: ${firstLine(e)}`, 1);
    }
  } else {
    try {
      traces = ((await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: HiveTrace[] }).items;
    } catch (e) {
      throw new HiveError(`hive report: cannot list HiveTraces: ${firstLine(e)}`, 1);
    }
  }
  const { rows, omitted } = inventoryRows(traces);
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ entries: rows, omitted }, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    const what = o.trace ? `HiveTrace ${o.trace.namespace}/${o.trace.name} has` : traces.length ? `none of the ${traces.length} HiveTrace(s) has` : 'there is no HiveTrace, so no';
    process.stdout.write(`no accesses recorded: ${what} an inventory in its status yet\n`);
    return 0;
  }
  process.stdout.write(renderTable(rows, omitted));
  return 0;
}

function firstLine(e: unknown): string {
  return errorMessage(e).split('\n')[0];
}
