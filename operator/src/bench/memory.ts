// The agent's memory and scale (make bench, HIVE_BENCH_ONLY=memory): a real
// `hive agent` process against the test API server and a private containerd
// (the harness, never the node's), measured from outside — RSS split by
// mapping (/proc/PID/smaps), the V8 heap as the process sees it (a preload,
// memory-probe.ts), kernel map memory (memlock of each map fd, names from
// bpftool). Scenarios: idle with 3 HiveTraces and no matching pod; at scale
// (pods × 64 paths, 65,536 watched inodes, 100 HiveTraces) idle, under a real
// reader's load, and the time from (re)start to every watch in the kernel.
// Node flag arms run the same scenarios, so a flag is chosen by its figures.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ChildProcess, spawn } from 'node:child_process';
import { TestCluster, freePort } from '../testing/cluster';
import { mapNames, processMaps } from '../testing/bpf-maps';
import { ContainerdHarness, IMAGE } from '../testing/containerd-harness';
import { Sample, parseMetrics, runningPodStatus, total } from '../testing/agent-process';
import { Logger } from '../util/log';

export interface Row {
  [k: string]: string | number;
}

const REPO = path.resolve(__dirname, '../../..');
/** What ships (the image's entry point): the bundle; the unbundled modules are an idle arm. */
const BUNDLE = path.join(REPO, 'operator/dist/cli/hive.js');
const UNBUNDLED = path.join(REPO, 'operator/dist/cli/main.js');
const PROBE = path.join(__dirname, 'memory-probe.js');
const NODE = 'mem-node';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (kb: number) => +(kb / 1024).toFixed(1);
const load1 = () => +os.loadavg()[0].toFixed(2);

/** RSS by kind of mapping, in kB (smaps' Rss lines). */
export function rssByMapping(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      kind = mappingKind(head[1]);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] = (out[kind] ?? 0) + Number(rss[1]);
  }
  return out;
}

function mappingKind(name: string): string {
  if (name === '' || name === '[heap]') return 'anonymous (V8 heap, malloc, thread stacks)';
  if (name === 'anon_inode:bpf-map') return 'BPF map mmaps (ring buffers: data pages mapped twice)';
  if (name === process.execPath || name.endsWith('/node')) return 'node binary';
  if (name.endsWith('.node')) return 'hive addon';
  if (name.startsWith('/')) return 'shared libraries';
  return 'other';
}

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** The process's user+system CPU time in seconds. */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Every BPF map the process holds a fd of: memlock from fdinfo (the kernel's charge), name from bpftool when installed. */
export function kernelMaps(pid: number): { name: string; type: string; maxEntries: number; memlockKb: number }[] {
  const names = mapNames();
  return processMaps(pid)
    .map((m) => ({ name: names.get(m.id) ?? `id ${m.id}`, type: mapType(m.type), maxEntries: m.maxEntries, memlockKb: Math.round(m.memlock / 1024) }))
    .sort((a, b) => b.memlockKb - a.memlockKb);
}

function mapType(t: number): string {
  // enum bpf_map_type (uapi): the kinds hive creates
  return ({ 1: 'hash', 2: 'array', 5: 'percpu_hash', 6: 'percpu_array', 9: 'lru_hash', 11: 'lpm_trie', 27: 'ringbuf' } as Record<number, string>)[t] ?? `type ${t}`;
}

interface Probe {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, { size: number; used: number }>;
}

/** A `hive agent` child: stdout (the events) to /dev/null, so the bench's own parsing costs nothing; logs read for the ready line. */
class AgentChild {
  readonly started = Date.now();
  readyAt = 0;
  metricsPort = 0;
  private readonly probeFile: string;
  private readonly logs: string[] = [];

  private constructor(
    readonly child: ChildProcess,
    probeFile: string,
  ) {
    this.probeFile = probeFile;
  }

  static async start(nodeFlags: string[], env: NodeJS.ProcessEnv, dir: string, main = BUNDLE, agentArgs: string[] = []): Promise<AgentChild> {
    const probeFile = path.join(dir, `probe-${Date.now()}.json`);
    const devnull = fs.openSync('/dev/null', 'w');
    const snap = process.env.HIVE_BENCH_HEAPSNAPSHOT || process.env.HIVE_BENCH_HEAPSNAPSHOT_LOAD ? ['--heapsnapshot-signal=SIGUSR2'] : [];
    const child = spawn(process.execPath, [...nodeFlags, ...snap, '--require', PROBE, main, 'agent', '--metrics-port', '0', ...agentArgs], {
      env: { ...process.env, ...env, HIVE_MEMORY_PROBE: probeFile, HIVE_MEMORY_PROBE_PROFILE: env.HIVE_BENCH_CPUPROF ?? '' },
      stdio: ['ignore', devnull, 'pipe'],
    });
    fs.closeSync(devnull);
    const a = new AgentChild(child, probeFile);
    readline.createInterface({ input: child.stderr! }).on('line', (l) => {
      a.logs.push(l);
      if (a.logs.length > 200) a.logs.shift();
      if (!a.readyAt && l.includes('"msg":"ready"')) {
        a.readyAt = Date.now();
        a.metricsPort = (JSON.parse(l) as { metricsPort: number }).metricsPort;
      }
    });
    const deadline = Date.now() + 30_000;
    while (!a.readyAt) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`agent did not become ready: ${a.logs.slice(-10).join('\n')}`);
      await sleep(50);
    }
    return a;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async metrics(): Promise<Sample[]> {
    try {
      return parseMetrics(await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text());
    } catch (e) {
      // the agent died, most likely: what it said last is the reason
      throw new Error(`agent metrics: ${(e as Error).message} (agent exit code ${this.child.exitCode}, signal ${this.child.signalCode}); its last log lines:\n${this.logs.slice(-15).join('\n')}`);
    }
  }

  probe(): Probe | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.probeFile, 'utf8')) as Probe;
    } catch {
      return undefined;
    }
  }

  /** RSS and its parts now, in MiB. */
  snapshot(): Row {
    const byMap = rssByMapping(this.pid);
    const p = this.probe();
    const row: Row = { 'RSS MiB': mib(statusKb(this.pid, 'VmRSS')), 'peak RSS MiB (VmHWM)': mib(statusKb(this.pid, 'VmHWM')) };
    for (const [k, v] of Object.entries(byMap).sort((a, b) => b[1] - a[1])) row[`${k} MiB`] = mib(v);
    if (p) {
      row['V8 heap total MiB'] = mib(p.heapTotal / 1024);
      row['V8 heap used MiB'] = mib(p.heapUsed / 1024);
      row['V8 new space MiB'] = mib((p.spaces.new_space?.size ?? 0) / 1024);
      row['V8 external MiB'] = mib(p.external / 1024);
    }
    row['kernel map memlock MiB'] = mib(kernelMaps(this.pid).reduce((n, m) => n + m.memlockKb, 0));
    return row;
  }

  /** A V8 heap snapshot (--heapsnapshot-signal) moved to `to`: where the heap goes, for the write-up. */
  async heapSnapshot(to: string): Promise<void> {
    const cwd = `/proc/${this.pid}/cwd`;
    const before = new Set(fs.readdirSync(cwd));
    this.child.kill('SIGUSR2');
    for (let i = 0; i < 600; i++) {
      await sleep(500);
      const made = fs.readdirSync(cwd).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
      // written when the size stops changing
      if (made && i > 4 && fs.statSync(path.join(cwd, made)).size > 0) {
        const size = fs.statSync(path.join(cwd, made)).size;
        await sleep(2000);
        if (fs.statSync(path.join(cwd, made)).size === size) {
          fs.renameSync(path.join(cwd, made), to);
          return;
        }
      }
    }
    throw new Error('no heap snapshot written');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
    fs.rmSync(this.probeFile, { force: true });
  }
}

/** The Node flags compared: none (Node's defaults), a 1 MiB semi-space (young generation). */
export const FLAG_ARMS: { name: string; flags: string[]; main?: string }[] = [
  { name: 'node defaults', flags: [] },
  { name: '--max-semi-space-size=1', flags: ['--max-semi-space-size=1'] },
];
/** Agent options at scale: no storm folding, so the load is the pipeline's. */
const SCALE_AGENT_ARGS = ['--aggregate-interval', '0'];
/** Idle also runs the unbundled modules (operator/dist/cli/main.js), to show what the bundle saves. */
const IDLE_ARMS = [...FLAG_ARMS, { name: 'unbundled, node defaults', flags: [], main: UNBUNDLED }];

interface Setup {
  cluster: TestCluster;
  h: ContainerdHarness;
  dir: string;
  env: NodeJS.ProcessEnv;
}

async function ok(cluster: TestCluster, method: string, p: string, body?: unknown, contentType?: string): Promise<Record<string, unknown>> {
  const r = await cluster.request(method, p, body, { contentType });
  if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body.message)}`);
  return r.body;
}

async function setUp(): Promise<Setup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-bench-mem-'));
  const cluster = TestCluster.start(await freePort());
  let h: ContainerdHarness | undefined;
  try {
    await cluster.installCrd('bench');
    h = await ContainerdHarness.start();
    return { cluster, h, dir, env: { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket } };
  } catch (e) {
    await h?.stop();
    cluster.stop();
    throw e;
  }
}

async function tearDown(s: Setup): Promise<void> {
  await s.h.stop();
  s.cluster.stop();
  fs.rmSync(s.dir, { recursive: true, force: true });
}

async function createTrace(s: Setup, ns: string, name: string, spec: object): Promise<void> {
  await ok(s.cluster, 'POST', `/apis/hive.io/v1alpha1/namespaces/${ns}/hivetraces`, { apiVersion: 'hive.io/v1alpha1', kind: 'HiveTrace', metadata: { name, namespace: ns }, spec });
}

/** Idle: 3 HiveTraces, no pod they select; RSS after 10 s settled, per flag arm. */
async function idle(s: Setup, log: Logger): Promise<Row[]> {
  await ok(s.cluster, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mem-idle' } });
  for (const t of ['t1', 't2', 't3']) await createTrace(s, 'mem-idle', t, { paths: ['/etc/secret', '/etc/*'], selector: { matchLabels: { app: 'nothing-runs-this' } } });
  const rows: Row[] = [];
  for (const arm of IDLE_ARMS) {
    const a = await AgentChild.start(arm.flags, s.env, s.dir, arm.main);
    try {
      await sleep(10_000);
      rows.push({ arm: arm.name, 'ready after ms': a.readyAt - a.started, ...a.snapshot(), 'load average': load1() });
      log.info({ arm: arm.name }, 'idle measured');
    } finally {
      await a.stop();
    }
  }
  return rows;
}

export interface ScaleOptions {
  pods: number;
  pathsPerPod: number;
  inodes: number;
  traces: number;
  loadIterations: number;
}

/**
 * Pods × paths: pod i gets /data/p0 ... /data/p{paths-1} with the inodes
 * spread over them; trace t watches /data/p{t % paths}/* in every pod (traces
 * beyond `paths` overlap earlier ones: the same inodes, more owners).
 */
async function scale(s: Setup, o: ScaleOptions, log: Logger): Promise<{ rows: Row[]; kernel: Row[]; setup: Row }> {
  const ns = 'mem-scale';
  await ok(s.cluster, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const t0 = Date.now();
  const roots: string[] = [];
  for (let i = 0; i < o.pods; i++) {
    const name = `app-${i}`;
    const created = await ok(s.cluster, 'POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'scale' } }, spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] } });
    const pod = await s.h.runPod(name, ['app'], ns, (created.metadata as { uid: string }).uid);
    await ok(s.cluster, 'PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, runningPodStatus(pod.containers, `10.210.${i >> 8}.${i & 255}`, IMAGE), 'application/merge-patch+json');
    roots.push(`/proc/${pod.containers[0].pid}/root`);
    if ((i + 1) % 10 === 0) log.info({ pods: i + 1, seconds: (Date.now() - t0) / 1000 }, 'pods running');
  }
  const podsSeconds = (Date.now() - t0) / 1000;
  for (const root of roots) for (let d = 0; d < o.pathsPerPod; d++) fs.mkdirSync(path.join(root, 'data', `p${d}`), { recursive: true });
  for (let n = 0; n < o.inodes; n++) {
    const pod = n % o.pods;
    const dir = Math.floor(n / o.pods) % o.pathsPerPod;
    fs.writeFileSync(path.join(roots[pod], 'data', `p${dir}`, `f${Math.floor(n / (o.pods * o.pathsPerPod))}`), '');
  }
  for (let t = 0; t < o.traces; t++) await createTrace(s, ns, `t${t}`, { paths: [`/data/p${t % o.pathsPerPod}/*`], selector: { matchLabels: { app: 'scale' } } });
  const setup: Row = { pods: o.pods, 'paths per pod': o.pathsPerPod, 'files (inodes) watched': o.inodes, HiveTraces: o.traces, 'seconds to run the pods': +podsSeconds.toFixed(1), 'load average': load1() };
  log.info(setup, 'scale set up');

  // the reader: open+close of 16 watched files of pod 0, pinned to the last CPU;
  // the kernel's folding is off at scale, so every open is an event through the
  // whole pipeline (folded, the one reader is ~2 records per file a second)
  const readerFiles = Array.from({ length: 16 }, (_, d) => path.join(roots[0], 'data', `p${d % o.pathsPerPod}`, 'f0'));
  const openloop = path.join(REPO, 'build/openloop');
  const rows: Row[] = [];
  let kernel: Row[] = [];
  for (const [k, arm] of FLAG_ARMS.entries()) {
    // HIVE_BENCH_CPUPROF=FILE: the first start is profiled from ready to the full reconcile, and not measured further
    // HIVE_BENCH_CPUPROF_LOAD=FILE: the first arm's load phase is profiled instead
    const profile = k === 0 && process.env.HIVE_BENCH_CPUPROF;
    const loadProfile = k === 0 && process.env.HIVE_BENCH_CPUPROF_LOAD;
    const a = await AgentChild.start(arm.flags, profile || loadProfile ? { ...s.env, HIVE_BENCH_CPUPROF: profile || loadProfile || '' } : s.env, s.dir, BUNDLE, SCALE_AGENT_ARGS);
    if (profile) a.child.kill('SIGUSR2');
    try {
      // (re)start until every inode is in the kernel map and every trace reconciled once
      let m: Sample[] = [];
      for (;;) {
        m = await a.metrics();
        const traced = new Set(m.filter((x) => x.name === 'hive_reconcile_total').map((x) => x.labels.trace)).size;
        if (total(m, 'hive_watched_inodes') >= o.inodes && traced >= o.traces) break;
        if (Date.now() - a.started > 300_000) throw new Error(`not reconciled in 300 s: ${total(m, 'hive_watched_inodes')} inodes, ${traced} traces`);
        await sleep(100);
      }
      const reconciled = Date.now();
      const base: Row = { arm: arm.name, start: k === 0 ? 'first start' : 'restart', 'watched inodes': total(m, 'hive_watched_inodes'), 'ready after ms': a.readyAt - a.started, 'every watch in the kernel after ms (from spawn)': reconciled - a.started, 'after ready ms': reconciled - a.readyAt };
      if (profile) {
        a.child.kill('SIGUSR2');
        await sleep(3000);
        rows.push({ ...base, phase: `CPU profile in ${profile} (not measured)` });
        continue;
      }
      await sleep(10_000);
      rows.push({ ...base, phase: 'idle at scale', ...a.snapshot(), 'load average': load1() });
      if (process.env.HIVE_BENCH_HEAPSNAPSHOT && k === 0) await a.heapSnapshot(process.env.HIVE_BENCH_HEAPSNAPSHOT);
      // the first measured arm's (a profiled first start is not measured)
      if (kernel.length === 0) kernel = kernelMaps(a.pid).map((x) => ({ map: x.name, type: x.type, 'max entries': x.maxEntries, 'memlock KiB': x.memlockKb }));

      // load: the reader runs while RSS and CPU are sampled
      const before = await a.metrics();
      const cpu0 = cpuSeconds(a.pid);
      const l0 = Date.now();
      let peak = 0;
      if (loadProfile) a.child.kill('SIGUSR2');
      const reader = spawn('taskset', ['-c', String(os.cpus().length - 1), openloop, String(o.loadIterations), ...readerFiles], { stdio: ['ignore', 'pipe', 'inherit'] });
      const done = new Promise<number>((r) => reader.once('exit', (code) => r(code ?? 1)));
      let finished = false;
      void done.then(() => (finished = true));
      let snapped = false;
      while (!finished) {
        peak = Math.max(peak, statusKb(a.pid, 'VmRSS'));
        await sleep(200);
        // HIVE_BENCH_HEAPSNAPSHOT_LOAD=FILE: what the heap holds 5 s into the load (first arm)
        if (k === 0 && !snapped && process.env.HIVE_BENCH_HEAPSNAPSHOT_LOAD && Date.now() - l0 > 5000) {
          snapped = true;
          await a.heapSnapshot(process.env.HIVE_BENCH_HEAPSNAPSHOT_LOAD);
        }
      }
      if ((await done) !== 0) throw new Error('openloop failed');
      if (loadProfile) a.child.kill('SIGUSR2');
      const secs = (Date.now() - l0) / 1000;
      const cpu = cpuSeconds(a.pid) - cpu0;
      await sleep(1000); // the last batches
      const after = await a.metrics();
      const emitted = total(after, 'hive_events_emitted') - total(before, 'hive_events_emitted');
      const dropped = total(after, 'hive_events_dropped') - total(before, 'hive_events_dropped');
      rows.push({
        ...base,
        phase: 'under load',
        'kernel folding': SCALE_AGENT_ARGS.join(' '),
        'reader seconds': +secs.toFixed(1),
        'events/s offered (emitted + lost)': Math.round((emitted + dropped) / secs),
        'events/s (kernel emitted)': Math.round(emitted / secs),
        'events lost (ring full)': dropped,
        'agent CPU % of one core': +((100 * cpu) / secs).toFixed(1),
        'peak RSS MiB during load (sampled 5/s)': mib(peak),
        ...a.snapshot(),
        'load average': load1(),
      });
      log.info({ arm: arm.name }, 'scale measured');
    } finally {
      await a.stop();
    }
  }
  return { rows, kernel, setup };
}

/** Everything, in one setup (API server, containerd, the pods). */
export async function memoryBench(log: Logger, o: Partial<ScaleOptions> = {}): Promise<Record<string, Row[]>> {
  const opts: ScaleOptions = { pods: 110, pathsPerPod: 64, inodes: 65_536, traces: 100, loadIterations: 2_000_000, ...o };
  const s = await setUp();
  try {
    const idleRows = await idle(s, log);
    // HIVE_BENCH_MEMORY=idle: the idle rows alone (a minute instead of ten)
    if (process.env.HIVE_BENCH_MEMORY === 'idle') return { idle: idleRows };
    const sc = await scale(s, opts, log);
    return { idle: idleRows, setup: [sc.setup], scale: sc.rows, kernel: sc.kernel };
  } finally {
    await tearDown(s);
  }
}
