// Command-line parsing for every subcommand: pure functions, unit-tested.
// Each command's options are one table (cli/options.ts makes the parser,
// usage and --help from it); defaults and validation live here, before
// anything touches the kernel.
import fs from 'node:fs';
import { UsageError, errorMessage } from '../util/errors';
import { ACCESS_NAMES, parseAccess } from '../fileaccess/layout';
import { MODES, ModeOption, parseMode } from '../fileaccess/modes';
import { Action, enforcementProblem } from '../fileaccess/action';
import { DEFAULT_AGGREGATE_MS, DEFAULT_MAX_WATCHES, MAX_MAX_WATCHES } from '../fileaccess/monitor';
import { DEFAULT_CONTAINERD_SOCKET } from '../runtime/constants';
import { DEFAULT_MAX_MATCHES } from '../resolve/in-root';
import { Cidr, parseCidr, parseIp } from '../netmon/addr';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_FLOWS, DEFAULT_SUMMARY_INTERVAL_MS } from '../netmon/net-monitor';
import { MAX_INVENTORY_ENTRIES } from '../kube/hivetrace-schema';
import { DEFAULT_INVENTORY_SIZE } from '../agent/inventory';
import { CommandDef, OptionDef, Parsed, parseCommand, usageError, usageLine } from './options';

/** /host/proc when the host's /proc is mounted there (in a pod), else /proc. */
export function defaultHostProc(exists: (p: string) => boolean = fs.existsSync): string {
  return exists('/host/proc/self') ? '/host/proc' : '/proc';
}

// Options several commands share.
const MODE: OptionDef = {
  name: 'mode',
  kind: 'string',
  value: ['auto', ...MODES].join('|'),
  default: 'auto',
  help: 'how file access is hooked; auto picks the best this kernel supports',
};
const MAX_WATCHES: OptionDef = {
  name: 'max-watches',
  kind: 'int',
  value: 'N',
  min: 1,
  max: MAX_MAX_WATCHES,
  default: DEFAULT_MAX_WATCHES,
  help: 'at most this many watched files',
};
const MAX_MATCHES: OptionDef = {
  name: 'max-matches',
  kind: 'int',
  value: 'N',
  min: 1,
  max: 1 << 20,
  default: DEFAULT_MAX_MATCHES,
  help: 'at most this many matches per glob',
};
const CONTAINERD_SOCKET: OptionDef = {
  name: 'containerd-socket',
  kind: 'string',
  value: 'PATH',
  env: 'CONTAINERD_ADDRESS',
  default: DEFAULT_CONTAINERD_SOCKET,
  help: "containerd's API socket",
};
const HOST_PROC: OptionDef = {
  name: 'host-proc',
  kind: 'string',
  value: 'PATH',
  defaultFrom: { text: '/host/proc when it exists, else /proc', value: () => defaultHostProc() },
  help: "the host's /proc, where containers' roots are reached",
};
const PRETTY: OptionDef = { name: 'pretty', kind: 'flag', help: 'one readable line per event instead of JSON' };

/** The options of PathScopeOptions (pathScope() reads them): where trace's and explain's paths are. */
const PATH_SCOPE: OptionDef[] = [
  { name: 'pid', kind: 'int', value: 'PID', min: 1, max: 4194304, help: "the paths are inside this process's root" },
  { name: 'container', kind: 'string', value: 'ID', help: "the paths are inside this container's root (id, or runtime://id)" },
  CONTAINERD_SOCKET,
  { name: 'cri-socket', kind: 'string', value: 'PATH', help: "find --container through this CRI socket (CRI-O, ...) instead of containerd's API" },
  HOST_PROC,
  MAX_MATCHES,
];

export const TRACE: CommandDef = {
  name: 'trace',
  summary: 'Audits file access to the given paths (host paths, or inside a process or container root) and prints events until interrupted.',
  args: { text: 'PATH...', help: 'absolute paths or globs to watch', missing: 'no paths given' },
  options: [
    MODE,
    { name: 'access', kind: 'string', value: ACCESS_NAMES.join(','), default: ACCESS_NAMES.join(','), help: 'which accesses to report' },
    { name: 'deny', kind: 'flag', help: 'refuse those accesses with EPERM in the kernel (modes lsm, fentry; auto picks one); exits 2 where no mode can' },
    { name: 'kill', kind: 'flag', help: 'SIGKILL the process opening a watched file, before it can use the fd (mode tracepoint only, where an open cannot be refused)' },
    PRETTY,
    MAX_WATCHES,
    { name: 'skip-missing', kind: 'flag', help: 'start without the paths that do not exist yet; each is watched when it appears' },
    ...PATH_SCOPE,
  ],
};

/** Where the paths are (the host, a process's root, a container's) and how they expand: trace and explain. */
export interface PathScopeOptions {
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

export interface TraceOptions extends PathScopeOptions {
  mode: ModeOption;
  access: number;
  /** audit, or deny (--deny) or kill (--kill) the watched accesses. */
  action: Action;
  pretty: boolean;
  maxWatches: number;
  skipMissing: boolean;
}

/** Runs a value parser that throws plain Errors (modes, access names) as this command's UsageError. */
function checked<T>(cmd: CommandDef, parseValue: () => T): T {
  try {
    return parseValue();
  } catch (e) {
    throw usageError(cmd, errorMessage(e));
  }
}

export function parseTraceArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): TraceOptions {
  const { values: v, positionals } = parseCommand(TRACE, argv, env);
  if (v.pid !== undefined && v.container !== undefined) throw usageError(TRACE, 'give --pid or --container, not both');
  if (v.deny && v.kill) throw usageError(TRACE, 'give --deny or --kill, not both (deny refuses the access, kill stops the process after it)');
  const mode = checked(TRACE, () => parseMode(v.mode as string));
  const action: Action = v.deny ? 'deny' : v.kill ? 'kill' : 'audit';
  if (action !== 'audit' && mode !== 'auto') {
    const problem = enforcementProblem(mode, action);
    if (problem) throw usageError(TRACE, `--${action}: ${problem}`);
  }
  return {
    mode,
    action,
    access: checked(TRACE, () => parseAccess(v.access as string)),
    pretty: v.pretty as boolean,
    maxWatches: v['max-watches'] as number,
    skipMissing: v['skip-missing'] as boolean,
    ...pathScope(v, positionals),
  };
}

/** The PathScopeOptions of parsed trace/explain values. */
function pathScope(v: Record<string, unknown>, positionals: string[]): PathScopeOptions {
  return {
    paths: positionals,
    pid: v.pid as number | undefined,
    container: v.container as string | undefined,
    containerdSocket: v['containerd-socket'] as string,
    criSocket: v['cri-socket'] as string | undefined,
    hostProc: v['host-proc'] as string,
    maxMatches: v['max-matches'] as number,
  };
}

export const EXPLAIN: CommandDef = {
  name: 'explain',
  summary:
    "Shows how each path resolves as hive trace would watch it (symlink hops, final inode and device, mount, or why not). Attaches nothing, loads no BPF: needs no capability beyond reading the root (a container's takes root or CAP_SYS_PTRACE).",
  args: { text: 'PATH...', help: 'absolute paths or globs, as hive trace takes them', missing: 'no paths given' },
  options: [
    ...PATH_SCOPE,
    { name: 'json', kind: 'flag', help: 'one JSON document instead of the readable text' },
  ],
};

export interface ExplainOptions extends PathScopeOptions {
  json: boolean;
}

export function parseExplainArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ExplainOptions {
  const { values: v, positionals } = parseCommand(EXPLAIN, argv, env);
  if (v.pid !== undefined && v.container !== undefined) throw usageError(EXPLAIN, 'give --pid or --container, not both');
  return {
    ...pathScope(v, positionals),
    json: v.json as boolean,
  };
}

export const PROBE: CommandDef = {
  name: 'probe',
  summary: 'Prints, as JSON, which attach modes and features this kernel supports.',
  options: [],
};

export function parseProbeArgs(argv: string[]): Record<string, never> {
  parseCommand(PROBE, argv);
  return {};
}

export const AGENT: CommandDef = {
  name: 'agent',
  summary: 'The node agent: follows HiveTraces and the pods of this node (in cluster, or with KUBECONFIG and NODE_NAME).',
  options: [
    MODE,
    MAX_WATCHES,
    MAX_MATCHES,
    CONTAINERD_SOCKET,
    HOST_PROC,
    { name: 'cri-socket', kind: 'string', value: 'PATH', env: 'HIVE_CRI_SOCKET', help: "find containers through this CRI socket (CRI-O, ...) instead of containerd's API" },
    { name: 'metrics-port', kind: 'int', value: 'PORT', min: 0, max: 65535, default: 9464, help: 'Prometheus /metrics port (0: any free port)' },
    { name: 'status-interval', kind: 'int', value: 'SECONDS', min: 1, max: 86400, default: 60, help: 'event counters in HiveTrace status are written at most this often per trace' },
    { name: 'resync-interval', kind: 'int', value: 'SECONDS', min: 1, max: 86400, default: 30, help: 'every trace is reconciled this often (a safety net)' },
    {
      name: 'inventory-size',
      kind: 'int',
      value: 'N',
      min: 0,
      max: MAX_INVENTORY_ENTRIES,
      default: DEFAULT_INVENTORY_SIZE,
      help: "entries of a trace's access inventory in its status per node, the most recently seen (0: no inventory)",
    },
    { name: 'inventory-interval', kind: 'int', value: 'SECONDS', min: 1, max: 86400, default: 30, help: "a trace's access inventory in its status is written at most this often" },
    {
      name: 'aggregate-interval',
      kind: 'int',
      value: 'MS',
      min: 0,
      max: 60_000,
      default: DEFAULT_AGGREGATE_MS,
      help: "the kernel folds a process's repeats of one access to one watched file within this many milliseconds into one event with a count (0: every access is an event)",
    },
    {
      name: 'enforce',
      kind: 'string',
      value: 'true|false',
      choices: ['true', 'false'],
      default: 'true',
      env: 'HIVE_ENFORCE',
      help: "false: this node's kill switch, every deny or kill trace stops nothing and its events say would-deny",
    },
    { name: 'allow-host-enforcement', kind: 'flag', help: "deny and kill apply to processes in the host's mount namespace too (default: they are exempt)" },
    {
      name: 'exempt-exe',
      kind: 'list',
      value: 'PATH',
      env: 'HIVE_EXEMPT_EXE',
      help: 'host paths of executables never denied or killed, besides the kubelet, containerd, its shims, runc, crio and conmon',
    },
    { name: 'service-cidr', kind: 'list', value: 'CIDR', env: 'HIVE_SERVICE_CIDR', help: "the cluster's Service ranges, counted as cluster traffic" },
    { name: 'cluster-cidr', kind: 'list', value: 'CIDR', env: 'HIVE_CLUSTER_CIDR', help: "other ranges counted as cluster traffic (besides nodes' pod CIDRs and addresses)" },
  ],
  env: [
    { name: 'NODE_NAME', help: 'the node this agent serves (required; the DaemonSet sets it from spec.nodeName)' },
    { name: 'KUBECONFIG', help: 'the cluster to use outside a pod' },
  ],
};

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
  /** Entries of a trace's access inventory in its status per node (0: none). */
  inventorySize: number;
  /** The inventory is written at most this often per trace. */
  inventoryIntervalMs: number;
  /** The kernel's storm folding interval (0: off). */
  aggregateMs: number;
  /** Service CIDRs and other ranges counted as cluster traffic (besides nodes' pod CIDRs and addresses). */
  clusterCidrs: Cidr[];
  /** false: every deny or kill trace is audited on this node (would-deny). */
  enforce: boolean;
  /** Processes in the host's mount namespace may be stopped too. */
  allowHostEnforcement: boolean;
  /** More executables never stopped (host paths). */
  exemptExes: string[];
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentArgs {
  const { values: v } = parseCommand(AGENT, argv, env);
  const mode = checked(AGENT, () => parseMode(v.mode as string));
  const nodeName = env.NODE_NAME ?? '';
  if (!nodeName) throw usageError(AGENT, 'NODE_NAME is not set (the DaemonSet sets it from spec.nodeName)');
  return {
    mode,
    maxWatches: v['max-watches'] as number,
    maxMatches: v['max-matches'] as number,
    containerdSocket: v['containerd-socket'] as string,
    criSocket: (v['cri-socket'] as string | undefined) || undefined,
    hostProc: v['host-proc'] as string,
    nodeName,
    metricsPort: v['metrics-port'] as number,
    statusIntervalMs: 1000 * (v['status-interval'] as number),
    resyncIntervalMs: 1000 * (v['resync-interval'] as number),
    inventorySize: v['inventory-size'] as number,
    inventoryIntervalMs: 1000 * (v['inventory-interval'] as number),
    aggregateMs: v['aggregate-interval'] as number,
    clusterCidrs: agentCidrs(v),
    enforce: v.enforce === 'true',
    allowHostEnforcement: v['allow-host-enforcement'] === true,
    exemptExes: checked(AGENT, () => exemptPaths(v['exempt-exe'] as string[])),
  };
}

/** --exempt-exe: absolute host paths. */
function exemptPaths(paths: string[]): string[] {
  const bad = paths.filter((p) => !p.startsWith('/'));
  if (bad.length) throw new Error(`--exempt-exe (env HIVE_EXEMPT_EXE) takes absolute host paths, got ${bad.map((p) => `'${p}'`).join(', ')}`);
  return paths;
}

/** --service-cidr (env HIVE_SERVICE_CIDR) and --cluster-cidr (env HIVE_CLUSTER_CIDR), every bad value named. */
function agentCidrs(v: Parsed['values']): Cidr[] {
  const problems: string[] = [];
  const out: Cidr[] = [];
  for (const name of ['service-cidr', 'cluster-cidr']) {
    const envName = AGENT.options.find((o) => o.name === name)?.env as string;
    out.push(...parseEach(v[name] as string[], (t) => parseCidr(t, `--${name} (env ${envName})`), 'hive agent', problems));
  }
  if (problems.length) throw new UsageError(problems.join('\n'));
  return out;
}

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

export const NETMON: CommandDef = {
  name: 'netmon',
  summary: "Monitors pods' network flows without Kubernetes, on the host-side interfaces of the given pod addresses.",
  options: [
    { name: 'pod-ip', kind: 'list', value: 'IP', required: true, help: 'addresses of the pods to monitor' },
    { name: 'cluster-cidr', kind: 'list', value: 'CIDR', help: 'ranges counted as cluster traffic; the rest is external' },
    { name: 'block-external', kind: 'flag', help: 'drop connections the pods open to external addresses' },
    PRETTY,
    {
      name: 'summary-interval',
      kind: 'int',
      value: 'SECONDS',
      min: 0,
      max: 86400,
      default: DEFAULT_SUMMARY_INTERVAL_MS / 1000,
      help: 'report a live flow at most this often (0: only when it ends)',
    },
    {
      name: 'idle-timeout',
      kind: 'int',
      value: 'SECONDS',
      min: 1,
      max: 86400,
      default: DEFAULT_IDLE_TIMEOUT_MS / 1000,
      help: 'a flow without packets for this long is reported and forgotten',
    },
    { name: 'max-flows', kind: 'int', value: 'N', min: 16, max: 1 << 22, default: DEFAULT_MAX_FLOWS, help: 'at most this many flows tracked at once' },
  ],
};

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

export function parseNetmonArgs(argv: string[]): NetmonOptions {
  const { values: v } = parseCommand(NETMON, argv, {});
  // Every bad value is reported, one line each, before anything starts.
  const problems: string[] = [];
  const podIps = parseEach(v['pod-ip'] as string[], (text) => ({ text, addr: parseIp(text, '--pod-ip') }), 'hive netmon', problems);
  const clusterCidrs = parseEach(v['cluster-cidr'] as string[], (t) => parseCidr(t, '--cluster-cidr'), 'hive netmon', problems);
  if (problems.length) throw new UsageError(problems.join('\n'));
  return {
    podIps,
    clusterCidrs,
    blockExternal: v['block-external'] as boolean,
    pretty: v.pretty as boolean,
    summaryIntervalMs: (v['summary-interval'] as number) * 1000,
    idleTimeoutMs: (v['idle-timeout'] as number) * 1000,
    maxFlows: v['max-flows'] as number,
  };
}

// a Kubernetes object name (a lower-case DNS subdomain), the one spelling both
// --trace options below are built from
const OBJECT_NAME = '[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?';
/** NAME or NAMESPACE/NAME. */
const DNS_NAME = new RegExp(`^(?:${OBJECT_NAME}/)?${OBJECT_NAME}$`);

export const LOGS: CommandDef = {
  name: 'logs',
  summary: "Prints the agents' events from the cluster (or from stdin), one readable line per event (as trace and netmon print with their pretty option).",
  options: [
    { name: 'follow', short: 'f', kind: 'flag', help: 'keep printing new events' },
    { name: 'stdin', kind: 'flag', help: 'render agent log lines read from stdin (e.g. piped from kubectl logs) instead of the API' },
    { name: 'kind', kind: 'string', value: 'file|network|alert', choices: ['file', 'network', 'alert'], help: 'only events of this kind' },
    { name: 'pod', kind: 'string', value: '[NAMESPACE/]NAME', help: 'only events of this pod' },
    { name: 'trace', kind: 'string', value: '[NAMESPACE/]NAME', help: 'only events of this HiveTrace' },
    { name: 'json', kind: 'flag', help: 'print the JSON lines as they are' },
    { name: 'tail', kind: 'int', value: 'N', min: 0, max: 1 << 30, help: "start with each agent's last N lines" },
    { name: 'namespace', short: 'n', kind: 'string', value: 'NAMESPACE', default: 'hive-system', help: 'where the agents run' },
    { name: 'selector', short: 'l', kind: 'string', value: 'SELECTOR', default: 'app.kubernetes.io/name=hive', help: "the agents' pod label selector" },
  ],
};

export interface LogsOptions {
  follow: boolean;
  /** Render agent log lines read from stdin (e.g. piped from kubectl logs) instead of the API. */
  stdin: boolean;
  kind?: 'file' | 'network' | 'alert';
  pod?: string;
  trace?: string;
  json: boolean;
  /** Where the agents run, and how they are found. */
  namespace: string;
  selector: string;
  container: string;
  tail?: number;
}

export function parseLogsArgs(argv: string[]): LogsOptions {
  const { values: v } = parseCommand(LOGS, argv, {});
  for (const opt of ['pod', 'trace'] as const) {
    const name = v[opt] as string | undefined;
    if (name !== undefined && !DNS_NAME.test(name)) {
      throw usageError(LOGS, `--${opt} must be NAME or NAMESPACE/NAME (lower-case DNS names), got '${name}'`);
    }
  }
  return {
    follow: v.follow as boolean,
    stdin: v.stdin as boolean,
    kind: v.kind as LogsOptions['kind'],
    pod: v.pod as string | undefined,
    trace: v.trace as string | undefined,
    json: v.json as boolean,
    tail: v.tail as number | undefined,
    namespace: v.namespace as string,
    selector: v.selector as string,
    container: 'agent',
  };
}

/** NAMESPACE/NAME: the two captured. */
const TRACE_REF = new RegExp(`^(${OBJECT_NAME})/(${OBJECT_NAME})$`);

export const REPORT: CommandDef = {
  name: 'report',
  summary: "Prints the access inventory of HiveTraces from their status (who accessed what, how often, when last, per node), the most recently seen first.",
  options: [
    { name: 'trace', kind: 'string', value: 'NAMESPACE/NAME', help: 'only this HiveTrace (default: every HiveTrace the kubeconfig can list)' },
    { name: 'json', kind: 'flag', help: 'one JSON document instead of the table' },
  ],
  env: [{ name: 'KUBECONFIG', help: 'the cluster to read (default ~/.kube/config, or in-cluster)' }],
};

export interface ReportOptions {
  trace?: { namespace: string; name: string };
  json: boolean;
}

export function parseReportArgs(argv: string[]): ReportOptions {
  const { values: v } = parseCommand(REPORT, argv, {});
  const t = v.trace as string | undefined;
  let trace: ReportOptions['trace'];
  if (t !== undefined) {
    const m = TRACE_REF.exec(t);
    if (!m) throw usageError(REPORT, `--trace must be NAMESPACE/NAME (lower-case DNS names), got '${t}'`);
    trace = { namespace: m[1], name: m[2] };
  }
  return { trace, json: v.json as boolean };
}

/** Every command, in the order `hive --help` lists them. */
export const COMMANDS: readonly CommandDef[] = [TRACE, EXPLAIN, PROBE, NETMON, AGENT, LOGS, REPORT];

export { usageLine };
