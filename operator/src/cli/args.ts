// Command-line parsing for every subcommand: pure functions, unit-tested.
// Defaults and validation live here, before anything touches the kernel.
import fs from 'node:fs';
import { parseArgs, ParseArgsConfig } from 'node:util';
import { UsageError, errorMessage } from '../util/errors';
import { ACCESS_ALL, parseAccess } from '../fileaccess/layout';
import { ModeOption, parseMode } from '../fileaccess/modes';
import { DEFAULT_MAX_WATCHES, MAX_MAX_WATCHES } from '../fileaccess/monitor';
import { DEFAULT_CONTAINERD_SOCKET } from '../runtime/constants';
import { DEFAULT_MAX_MATCHES } from '../resolve/in-root';
import { Cidr, parseCidr, parseIp } from '../netmon/addr';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_FLOWS, DEFAULT_SUMMARY_INTERVAL_MS } from '../netmon/net-monitor';

export interface TraceOptions {
  mode: ModeOption;
  access: number;
  pretty: boolean;
  maxWatches: number;
  skipMissing: boolean;
  paths: string[];
  /** Paths are inside this process's root (--pid) ... */
  pid?: number;
  /** ... or inside this container's (--container). */
  container?: string;
  containerdSocket: string;
  /** Find the container through this CRI socket instead of containerd's API (CRI-O, ...). */
  criSocket?: string;
  hostProc: string;
  /** At most this many matches per glob. */
  maxMatches: number;
}

/** /host/proc when the host's /proc is mounted there (in a pod), else /proc. */
export function defaultHostProc(exists: (p: string) => boolean = fs.existsSync): string {
  return exists('/host/proc/self') ? '/host/proc' : '/proc';
}

function intOption(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>, cmd: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages are long and mention "To specify a positional argument..."
    throw new UsageError(`hive ${cmd}: ${errorMessage(e).split('. ')[0]}`);
  }
}

export const TRACE_USAGE =
  'usage: hive trace [--mode auto|kprobe|fentry|lsm|tracepoint] [--access read,write,exec] [--pretty] ' +
  '[--max-watches N] [--skip-missing] [--pid PID | --container ID] [--containerd-socket PATH] ' +
  '[--host-proc PATH] [--max-matches N] PATH...';

export function parseTraceArgs(argv: string[]): TraceOptions {
  const { values, positionals } = parse(
    argv,
    {
      mode: { type: 'string' },
      access: { type: 'string' },
      pretty: { type: 'boolean' },
      'max-watches': { type: 'string' },
      'skip-missing': { type: 'boolean' },
      pid: { type: 'string' },
      container: { type: 'string' },
      'containerd-socket': { type: 'string' },
      'cri-socket': { type: 'string' },
      'host-proc': { type: 'string' },
      'max-matches': { type: 'string' },
    },
    'trace',
  );
  if (values.pid !== undefined && values.container !== undefined) {
    throw new UsageError('hive trace: give --pid or --container, not both');
  }
  let mode: ModeOption = 'auto';
  let access = ACCESS_ALL;
  try {
    if (values.mode !== undefined) mode = parseMode(String(values.mode));
    if (values.access !== undefined) access = parseAccess(String(values.access));
  } catch (e) {
    throw new UsageError(`hive trace: ${errorMessage(e)}`);
  }
  if (positionals.length === 0) throw new UsageError(`hive trace: no paths given; ${TRACE_USAGE}`);
  return {
    mode,
    access,
    pretty: values.pretty === true,
    maxWatches: intOption('max-watches', values['max-watches'] as string | undefined, DEFAULT_MAX_WATCHES, 1, MAX_MAX_WATCHES),
    skipMissing: values['skip-missing'] === true,
    paths: positionals,
    pid: values.pid === undefined ? undefined : intOption('pid', values.pid as string, 0, 1, 4194304),
    container: values.container as string | undefined,
    containerdSocket: (values['containerd-socket'] as string | undefined) ?? (process.env.CONTAINERD_ADDRESS || DEFAULT_CONTAINERD_SOCKET),
    criSocket: values['cri-socket'] as string | undefined,
    hostProc: (values['host-proc'] as string | undefined) ?? defaultHostProc(),
    maxMatches: intOption('max-matches', values['max-matches'] as string | undefined, DEFAULT_MAX_MATCHES, 1, 1 << 20),
  };
}

export function parseProbeArgs(argv: string[]): Record<string, never> {
  const { positionals } = parse(argv, {}, 'probe');
  if (positionals.length) throw new UsageError(`hive probe: unexpected argument '${positionals[0]}'; usage: hive probe`);
  return {};
}

export interface AgentArgs {
  mode: ModeOption;
  maxWatches: number;
  maxMatches: number;
  containerdSocket: string;
  /** Find containers through this CRI socket instead of containerd's API (CRI-O, ...). */
  criSocket?: string;
  hostProc: string;
  nodeName: string;
  metricsPort: number;
  /** Event counters in HiveTrace status are written at most this often per trace. */
  statusIntervalMs: number;
  /** Every trace is reconciled this often (a safety net for changes without an event). */
  resyncIntervalMs: number;
  /** Service CIDRs and other ranges counted as cluster traffic (besides nodes' pod CIDRs and addresses). */
  clusterCidrs: Cidr[];
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentArgs {
  const { values, positionals } = parse(
    argv,
    {
      mode: { type: 'string' },
      'max-watches': { type: 'string' },
      'max-matches': { type: 'string' },
      'containerd-socket': { type: 'string' },
      'cri-socket': { type: 'string' },
      'host-proc': { type: 'string' },
      'metrics-port': { type: 'string' },
      'status-interval': { type: 'string' },
      'resync-interval': { type: 'string' },
      'service-cidr': { type: 'string', multiple: true },
      'cluster-cidr': { type: 'string', multiple: true },
    },
    'agent',
  );
  if (positionals.length) throw new UsageError(`hive agent: unexpected argument '${positionals[0]}'`);
  let mode: ModeOption = 'auto';
  try {
    if (values.mode !== undefined) mode = parseMode(String(values.mode));
  } catch (e) {
    throw new UsageError(`hive agent: ${errorMessage(e)}`);
  }
  const nodeName = env.NODE_NAME ?? '';
  if (!nodeName) throw new UsageError('hive agent: NODE_NAME is not set (the DaemonSet sets it from spec.nodeName)');
  return {
    mode,
    maxWatches: intOption('max-watches', values['max-watches'] as string | undefined, DEFAULT_MAX_WATCHES, 1, MAX_MAX_WATCHES),
    maxMatches: intOption('max-matches', values['max-matches'] as string | undefined, DEFAULT_MAX_MATCHES, 1, 1 << 20),
    containerdSocket: (values['containerd-socket'] as string | undefined) ?? (env.CONTAINERD_ADDRESS || DEFAULT_CONTAINERD_SOCKET),
    criSocket: (values['cri-socket'] as string | undefined) ?? (env.HIVE_CRI_SOCKET || undefined),
    hostProc: (values['host-proc'] as string | undefined) ?? defaultHostProc(),
    nodeName,
    metricsPort: intOption('metrics-port', values['metrics-port'] as string | undefined, 9464, 0, 65535),
    statusIntervalMs: 1000 * intOption('status-interval', values['status-interval'] as string | undefined, 60, 1, 86400),
    resyncIntervalMs: 1000 * intOption('resync-interval', values['resync-interval'] as string | undefined, 30, 1, 86400),
    clusterCidrs: agentCidrs(values, env),
  };
}

/** --service-cidr (env HIVE_SERVICE_CIDR) and --cluster-cidr (env HIVE_CLUSTER_CIDR), comma-separated or repeated. */
function agentCidrs(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Cidr[] {
  const problems: string[] = [];
  const out: Cidr[] = [];
  for (const [opt, envName] of [['service-cidr', 'HIVE_SERVICE_CIDR'], ['cluster-cidr', 'HIVE_CLUSTER_CIDR']] as const) {
    const given = values[opt] !== undefined ? listOption(values[opt]) : listOption(env[envName]);
    out.push(...parseEach(given, (t) => parseCidr(t, `--${opt} (env ${envName})`), 'hive agent', problems));
  }
  if (problems.length) throw new UsageError(problems.join('\n'));
  return out;
}

export interface NetmonOptions {
  /** Selected pod addresses: the text given and the 16-byte form. */
  podIps: { text: string; addr: Buffer }[];
  clusterCidrs: Cidr[];
  blockExternal: boolean;
  pretty: boolean;
  summaryIntervalMs: number;
  idleTimeoutMs: number;
  maxFlows: number;
}

export const NETMON_USAGE =
  'usage: hive netmon --pod-ip IP... [--cluster-cidr CIDR...] [--block-external] [--pretty] ' +
  '[--summary-interval SECONDS] [--idle-timeout SECONDS] [--max-flows N]';

/** Parses every value; each bad one becomes a line of `problems` ("<cmd>: <why>"). */
function parseEach<T>(texts: string[], parseOne: (text: string) => T, cmd: string, problems: string[]): T[] {
  const out: T[] = [];
  for (const text of texts) {
    try {
      out.push(parseOne(text));
    } catch (e) {
      problems.push(`${cmd}: ${errorMessage(e)}`);
    }
  }
  return out;
}

/** Repeatable list options also take comma-separated values. */
function listOption(v: unknown): string[] {
  const raw = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return raw.flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean);
}

export function parseNetmonArgs(argv: string[]): NetmonOptions {
  const { values, positionals } = parse(
    argv,
    {
      'pod-ip': { type: 'string', multiple: true },
      'cluster-cidr': { type: 'string', multiple: true },
      'block-external': { type: 'boolean' },
      pretty: { type: 'boolean' },
      'summary-interval': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'max-flows': { type: 'string' },
    },
    'netmon',
  );
  if (positionals.length) throw new UsageError(`hive netmon: unexpected argument '${positionals[0]}'; ${NETMON_USAGE}`);
  const ips = listOption(values['pod-ip']);
  if (ips.length === 0) throw new UsageError(`hive netmon: no --pod-ip given; ${NETMON_USAGE}`);
  // Every bad value is reported, one line each, before anything starts.
  const problems: string[] = [];
  const podIps = parseEach(ips, (text) => ({ text, addr: parseIp(text, '--pod-ip') }), 'hive netmon', problems);
  const clusterCidrs = parseEach(listOption(values['cluster-cidr']), (t) => parseCidr(t, '--cluster-cidr'), 'hive netmon', problems);
  if (problems.length) throw new UsageError(problems.join('\n'));
  return {
    podIps,
    clusterCidrs,
    blockExternal: values['block-external'] === true,
    pretty: values.pretty === true,
    summaryIntervalMs:
      intOption('summary-interval', values['summary-interval'] as string | undefined, DEFAULT_SUMMARY_INTERVAL_MS / 1000, 0, 86400) * 1000,
    idleTimeoutMs: intOption('idle-timeout', values['idle-timeout'] as string | undefined, DEFAULT_IDLE_TIMEOUT_MS / 1000, 1, 86400) * 1000,
    maxFlows: intOption('max-flows', values['max-flows'] as string | undefined, DEFAULT_MAX_FLOWS, 16, 1 << 22),
  };
}

export interface LogsOptions {
  follow: boolean;
  /** Render agent log lines read from stdin (e.g. piped from kubectl logs) instead of the API. */
  stdin: boolean;
  kind?: 'file' | 'network';
  pod?: string;
  trace?: string;
  json: boolean;
  /** Where the agents run, and how they are found. */
  namespace: string;
  selector: string;
  container: string;
  tail?: number;
}

export const LOGS_USAGE =
  'usage: hive logs [-f|--follow | --stdin] [--kind file|network] [--pod [NAMESPACE/]NAME] [--trace [NAMESPACE/]NAME] [--json] ' +
  '[--tail N] [--namespace hive-system] [--selector app.kubernetes.io/name=hive]';

export function parseLogsArgs(argv: string[]): LogsOptions {
  const { values, positionals } = parse(
    argv,
    {
      follow: { type: 'boolean', short: 'f' },
      stdin: { type: 'boolean' },
      kind: { type: 'string' },
      pod: { type: 'string' },
      trace: { type: 'string' },
      json: { type: 'boolean' },
      tail: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      selector: { type: 'string', short: 'l' },
    },
    'logs',
  );
  if (positionals.length) throw new UsageError(`hive logs: unexpected argument '${positionals[0]}'; ${LOGS_USAGE}`);
  const kind = values.kind as string | undefined;
  if (kind !== undefined && kind !== 'file' && kind !== 'network') {
    throw new UsageError(`hive logs: --kind must be file or network, got '${kind}'`);
  }
  for (const opt of ['pod', 'trace'] as const) {
    const v = values[opt] as string | undefined;
    if (v !== undefined && !/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) {
      throw new UsageError(`hive logs: --${opt} must be NAME or NAMESPACE/NAME (lower-case DNS names), got '${v}'`);
    }
  }
  return {
    follow: values.follow === true,
    stdin: values.stdin === true,
    kind: kind as LogsOptions['kind'],
    pod: values.pod as string | undefined,
    trace: values.trace as string | undefined,
    json: values.json === true,
    tail: values.tail === undefined ? undefined : intOption('tail', values.tail as string, 0, 0, 1 << 30),
    namespace: (values.namespace as string | undefined) ?? 'hive-system',
    selector: (values.selector as string | undefined) ?? 'app.kubernetes.io/name=hive',
    container: 'agent',
  };
}
