// `hive explain [--pid PID | --container ID] [--json] PATH...`: how each path
// resolves, as hive trace would watch it (resolve/explain.ts), printed for a
// reader or as one JSON document. Attaches nothing and loads no BPF. A path
// that does not resolve is an answer (exit 0); a path that is not acceptable
// input is one line on stderr and exit 2, the other paths explained all the same.
import { ExplainOptions } from './args';
import type { ContainerTarget } from './container-target';
import { ExplainedFile, Hop, PathExplanation, explainPatterns, hopText, hostRootOf, mountText } from '../resolve/explain';
import { printable } from '../output/printable';

interface Where {
  root: string;
  procDir: string;
  hostRoot: string;
  pid?: number;
  container?: { id: string; name: string };
}

async function where(opts: ExplainOptions): Promise<Where> {
  if (opts.pid === undefined && opts.container === undefined) return { root: '/', procDir: '/proc/self', hostRoot: '/' };
  // the runtime clients (gRPC) load only when a container is involved
  const { containerTarget } = await import('./container-target.js');
  const t: ContainerTarget = await containerTarget(opts, 'explain');
  t.client?.close();
  return { root: t.root, procDir: `${opts.hostProc}/${t.pid}`, hostRoot: hostRootOf(opts.hostProc), pid: t.pid, ...(t.container ? { container: t.container } : {}) };
}

/** Hops, one a line; a loop's 40 shown as its first few. */
function hopLines(hops: Hop[], inContainer: boolean, indent: string): string[] {
  const shown = hops.length > 8 ? hops.slice(0, 4) : hops;
  const out = shown.map((h, i) => `${indent}hop ${i + 1}  ${hopText(h, inContainer)}`);
  if (shown.length < hops.length) out.push(`${indent}...    ${hops.length - shown.length} more hops`);
  return out;
}

function fileLines(f: ExplainedFile, inContainer: boolean, indent: string): string[] {
  const out = hopLines(f.hops, inContainer, indent);
  out.push(`${indent}final  ${f.final ?? '(walk did not finish)'}${f.walkDisagrees ? '  (changed while explained: the walk and the kernel disagree)' : ''}`);
  out.push(`${indent}inode  ${f.ino}  dev ${f.dev} (kernel ${f.kdev})  ${f.type}`);
  if (f.mount) out.push(`${indent}mount  ${mountText(f.mount)}`);
  return out;
}

/** The readable form of one explanation: lines, each escaped (printable): paths and link targets are the container's to name. */
export function renderExplanation(e: PathExplanation, inContainer: boolean): string[] {
  return explanationLines(e, inContainer).map(printable);
}

function explanationLines(e: PathExplanation, inContainer: boolean): string[] {
  const head =
    e.kind === 'glob'
      ? `${e.path}  (glob: ${e.files.length} match${e.files.length === 1 ? '' : 'es'}${e.truncated ? `, ${e.truncated.seen} seen, only the first ${e.truncated.limit} watched` : ''})`
      : e.kind === 'directory'
        ? `${e.path}  (directory: itself and ${e.files.length - 1} entr${e.files.length === 2 ? 'y' : 'ies'}${e.truncated ? `, ${e.truncated.seen} seen, only the first ${e.truncated.limit} watched` : ''})`
        : e.path;
  const out = [head];
  if (e.state !== 'ok') {
    out.push(...hopLines(e.hops, inContainer, '  '));
    out.push(`  not resolved: ${e.reason ?? e.state}`);
    return out;
  }
  if (e.kind === 'path') return [...out, ...fileLines(e.files[0], inContainer, '  ')];
  if (e.kind === 'directory') out.push(...fileLines(e.files[0], inContainer, '  '));
  for (const f of e.kind === 'directory' ? e.files.slice(1) : e.files) {
    out.push(`  ${f.path}`);
    out.push(...fileLines(f, inContainer, '    '));
  }
  return out;
}

const bigintSafe = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

export async function runExplain(opts: ExplainOptions): Promise<number> {
  const w = await where(opts);
  const inContainer = w.root !== '/';
  const explained = explainPatterns(w.root, opts.paths, { maxMatches: opts.maxMatches, procDir: w.procDir, hostRoot: w.hostRoot });
  if (opts.json) {
    const doc = { root: w.root, ...(w.pid !== undefined ? { pid: w.pid } : {}), ...(w.container ? { container: w.container } : {}), paths: explained };
    process.stdout.write(`${JSON.stringify(doc, bigintSafe, 2)}\n`);
  } else {
    const lines = [
      printable(inContainer ? `root ${w.root} (pid ${w.pid}${w.container ? `, container ${w.container.name} ${w.container.id.slice(0, 12)}` : ''})` : 'root / (this host)'),
      ...explained.flatMap((e) => ['', ...renderExplanation(e, inContainer)]),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  const bad = explained.filter((e) => e.state === 'invalid');
  for (const e of bad) process.stderr.write(`${printable(`hive explain: ${e.path}: ${e.reason}`)}\n`);
  return bad.length ? 2 : 0;
}
