// make bench, the whole file-event pipeline as the agent runs it: ring buffer
// -> decode -> enrich (watch id -> trace, pod, container, path) -> rate limit
// -> one JSON line on stdout. A child process pinned to one CPU opens a real
// monitor, a watch registry with one owner of watch id 1 and the agent's
// FilePipeline and EventWriter on its fd 1; the in-kernel generator fills the
// ring buffer first, then the clock runs from the first batch to the last line
// handed to the kernel. Its stdout is a pipe to a line counter on the other CPU
// (`wc -l`, which also proves every line arrived), or /dev/null.
import fs from 'node:fs';
import os from 'node:os';
import { spawn } from 'node:child_process';
import inspector from 'node:inspector';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { ACCESS_ALL } from '../fileaccess/layout';
import { WatchRegistry } from '../fileaccess/watch-registry';
import { FilePipeline } from '../agent/file-pipeline';
import { Correlator } from '../agent/correlator';
import { AgentMetrics } from '../agent/metrics';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { log, Logger } from '../util/log';
import { BenchGenerator } from './generator';

type Row = Record<string, string | number>;
type Sink = 'pipe' | 'devnull';
/** The correlator on the pipeline: none; tapped, no trace correlates; tapped, the trace correlates (every read kept as its pod's window). */
type Tap = 'none' | 'off' | 'on';

const EVENTS = 1_000_000;
/** 128 MiB holds 1.5 M 88-byte records: the whole load fits before the clock starts. */
const RING = 1 << 27;

interface ChildResult {
  events: number;
  lines: number;
  seconds: number;
  cpuSeconds: number;
  dropped: number;
  writerDropped: number;
}

/**
 * Process records as the kernel writes them (bpf/lineage.bpf.h) for the
 * generator's tgids (0..GEN_TGIDS-1 in every run): each a cat under a shell
 * under a container's init, so every line carries an exe and two ancestors.
 */
const GEN_TGIDS = 10_000;
function addLineage(monitor: FileAccessMonitor): void {
  const rec = (tgid: number, ppid: number, nsPid: number, comm: string, exe: string) => ({
    startNs: BigInt(tgid), parentStartNs: BigInt(ppid), cgroupId: 1n, tgid, ppid, nsPid, pidNs: 4026531836, uid: 0, flags: 0, comm, exe, exeIno: BigInt(tgid), exeDev: 1,
  });
  monitor.processes.add(rec(GEN_TGIDS + 1, 1, 1, 'entrypoint', '/usr/local/bin/entrypoint'));
  monitor.processes.add(rec(GEN_TGIDS + 2, GEN_TGIDS + 1, 7, 'sh', '/usr/bin/dash'));
  for (let t = 0; t < GEN_TGIDS; t++) monitor.processes.add(rec(t, GEN_TGIDS + 2, 100 + t, 'cat', '/usr/bin/cat'));
}

/** The measured process: fills the ring, then runs the agent's pipeline to fd 1. */
async function child(events: number, rateLimit: number | undefined, tap: Tap = 'none'): Promise<void> {
  const quiet = log.child({ module: 'bench' });
  quiet.level = 'warn';
  const { monitor } = FileAccessMonitor.open({ mode: 'auto', ringBufferBytes: RING, log: quiet });
  const gen = BenchGenerator.open(monitor);
  const registry = new WatchRegistry(monitor);
  // watch id 1 is the first slot: the generator's records all carry it
  registry.set('bench/pipeline|0b5e7a1e-0000-4000-8000-000000000001|app', [
    {
      ino: 1n,
      dev: 0x800001,
      path: '/etc/shadow',
      access: ACCESS_ALL,
      trace: { namespace: 'bench', name: 'pipeline' },
      pod: { namespace: 'bench', name: 'web-7d4b9c8f6d-x2x7q', uid: '0b5e7a1e-0000-4000-8000-000000000001' },
      container: { name: 'app', id: '4f1c0d6e9b7a5c3e1f2d4b6a8c0e2f4a6b8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e' },
    },
  ]);
  addLineage(monitor);
  const writer = new EventWriter();
  const pipeline = new FilePipeline(registry, writer, new Clock(), 'node-bench-1', new AgentMetrics(), () => rateLimit);
  const correlator = tap === 'none' ? undefined : new Correlator({ node: 'node-bench-1', spec: () => (tap === 'on' ? { withinSeconds: 30 } : undefined), emit: () => undefined, log: quiet });
  if (correlator) pipeline.tap = correlator;
  for (let done = 0; done < events; done += 10_000) gen.generate(Math.min(10_000, events - done));
  // HIVE_BENCH_PROFILE=FILE: a CPU profile of the measured phase only (node's
  // --cpu-prof would also sample the program loads, and the verifier gives up
  // with EAGAIN when a signal is pending)
  const profile = process.env.HIVE_BENCH_PROFILE;
  const session = profile ? new inspector.Session() : undefined;
  if (session) {
    session.connect();
    await new Promise((r) => session.post('Profiler.enable', () => session.post('Profiler.start', r)));
  }
  let got = 0;
  let t0 = 0n;
  let c0: NodeJS.CpuUsage | undefined;
  const finished = new Promise<void>((resolve) => {
    monitor.onRecords((recs) => {
      if (!c0) {
        c0 = process.cpuUsage();
        t0 = process.hrtime.bigint();
      }
      pipeline.handle(recs);
      got += recs.at.length;
      if (got >= events) resolve();
    }, 10);
  });
  await finished;
  pipeline.stop();
  correlator?.stop();
  await writer.drained();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  if (session && profile) {
    await new Promise<void>((r) =>
      session.post('Profiler.stop', (_e, res) => {
        fs.writeFileSync(profile, JSON.stringify(res.profile));
        r();
      }),
    );
  }
  const r: ChildResult = { events: got, lines: writer.written + writer.dropped, writerDropped: writer.dropped, seconds: secs, cpuSeconds: (cpu.user + cpu.system) / 1e6, dropped: monitor.counters().dropped };
  fs.writeSync(3, JSON.stringify(r));
  gen.close();
  monitor.close();
}

/** One round: the pipeline process on the last CPU, its stdout to `sink`. */
function round(
  sink: Sink,
  rateLimit: number | undefined,
  events = EVENTS,
  tap: Tap = 'none',
  childScript = __filename,
): Promise<ChildResult & { counted?: number }> {
  const cpus = os.cpus().length;
  const last = String(cpus - 1);
  const child = ['taskset', '-c', last, process.execPath, childScript, '--child', String(events), String(rateLimit ?? 0), tap].map((a) => `'${a}'`).join(' ');
  // the reader on another CPU when there is one, so it does not take the measured core
  const reader = `taskset -c ${cpus > 1 ? '0' : last} wc -l`;
  const script = sink === 'pipe' ? `${child} | ${reader}` : `${child} > /dev/null`;
  return new Promise((resolve, reject) => {
    // fd 3 of the shell (and so of the pipeline process) carries the child's figures back
    const p = spawn('bash', ['-c', `set -o pipefail; ${script}`], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    let result = '';
    let counted = '';
    p.stdio[3]!.on('data', (d: Buffer) => (result += d.toString()));
    p.stdout!.on('data', (d: Buffer) => (counted += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0 || !result) return reject(new Error(`pipeline bench child exited with ${code}`));
      const r = JSON.parse(result) as ChildResult;
      resolve(sink === 'pipe' ? { ...r, counted: Number(counted.trim()) } : r);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Lines/s to a pipe and to /dev/null, with no rate limit and with one that is
 * never reached, rotating. env HIVE_BENCH_PIPELINE_BASELINE=PATH (the
 * compiled bench/pipeline.js of another build of the tree) adds that build's
 * pipe and /dev/null arms to the same rounds, to compare a change within one
 * run; HIVE_BENCH_PIPELINE_ROUNDS sets the rounds.
 */
export async function pipelineThroughput(_log: Logger, rounds = Number(process.env.HIVE_BENCH_PIPELINE_ROUNDS ?? 5)): Promise<Row[]> {
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new Error(`HIVE_BENCH_PIPELINE_ROUNDS must be an integer from 1 to 100, got "${process.env.HIVE_BENCH_PIPELINE_ROUNDS}"`);
  const arms: { name: string; sink: Sink; limit?: number; script?: string }[] = [
    { name: 'to a pipe (wc -l on the other CPU), no rateLimit', sink: 'pipe' },
    { name: 'to /dev/null, no rateLimit', sink: 'devnull' },
    { name: 'to a pipe, rateLimit 10^9/s (windows kept, never reached)', sink: 'pipe', limit: 1e9 },
  ];
  const baseline = process.env.HIVE_BENCH_PIPELINE_BASELINE;
  if (baseline) {
    if (!fs.existsSync(baseline)) throw new Error(`HIVE_BENCH_PIPELINE_BASELINE: no such file ${baseline}`);
    arms.push({ name: `baseline build, to a pipe (${baseline})`, sink: 'pipe', script: baseline }, { name: 'baseline build, to /dev/null', sink: 'devnull', script: baseline });
  }
  const rates = arms.map(() => [] as number[]);
  const cpu = arms.map(() => [] as number[]);
  // lines per second of the process's own CPU time: what one core does, whatever else held the CPU
  const perCpu = arms.map(() => [] as number[]);
  const dropped = arms.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < arms.length; i++) {
      const k = (i + r) % arms.length;
      const res = await round(arms[k].sink, arms[k].limit, EVENTS, 'none', arms[k].script);
      if (res.lines !== res.events) throw new Error(`pipeline bench: ${res.events} events gave ${res.lines} lines`);
      // a reader slower than the pipeline (a busy machine) makes the writer drop, counted: reported, and
      // only what reached the reader is a line delivered; an uncounted loss is a failure
      if (res.counted !== undefined && res.counted !== res.lines - res.writerDropped) {
        throw new Error(`pipeline bench: ${res.lines - res.writerDropped} lines written, ${res.counted} read from the pipe`);
      }
      dropped[k] += res.writerDropped;
      rates[k].push((res.events - res.writerDropped) / res.seconds);
      cpu[k].push(res.cpuSeconds / res.seconds);
      perCpu[k].push(res.events / res.cpuSeconds);
    }
  }
  return arms.map((a, k) => ({
    arm: a.name,
    [`lines/s (median of ${rounds} x ${EVENTS / 1e6} M)`]: Math.round(median(rates[k])),
    'runs (k lines/s)': rates[k].map((x) => (x / 1e3).toFixed(0)).join(' '),
    'CPU of the pipeline process (1.0 = one core)': +median(cpu[k]).toFixed(2),
    'lines per CPU-second of the process (median)': Math.round(median(perCpu[k])),
    'runs (k lines per CPU-second)': perCpu[k].map((x) => (x / 1e3).toFixed(0)).join(' '),
    'median of per-round ratios to the first arm, per CPU-second': +median(perCpu[k].map((x, r) => x / perCpu[0][r])).toFixed(3),
    'lines dropped by the writer, counted (reader too slow), all runs': dropped[k],
    'ratio to target 250k': +(median(rates[k]) / 250_000).toFixed(2),
    'ratio to goal 500k': +(median(rates[k]) / 500_000).toFixed(2),
    // each round over the same round's first arm: the statistic least moved by the machine's drift
    'median of per-round ratios to the first arm': +median(rates[k].map((x, r) => x / rates[0][r])).toFixed(3),
    'load average (1 min) at end': +os.loadavg()[0].toFixed(2),
  }));
}

/**
 * The correlator's cost on the pipeline (to /dev/null, no rate limit):
 * without it, tapped by a correlator no trace asks for, and with the trace
 * correlating (each read becomes its pod's window), rotating; ratios to the first.
 */
export async function correlateOverhead(rounds = 3): Promise<Row[]> {
  const arms: { name: string; tap: Tap }[] = [
    { name: 'no correlator', tap: 'none' },
    { name: 'correlator tapped, trace without correlate', tap: 'off' },
    { name: 'correlator tapped, trace with correlate (every record a read)', tap: 'on' },
  ];
  const rates = arms.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < arms.length; i++) {
      const k = (i + r) % arms.length;
      const res = await round('devnull', undefined, EVENTS, arms[k].tap);
      if (res.lines !== res.events) throw new Error(`correlate bench: ${res.events} events gave ${res.lines} lines`);
      rates[k].push(res.events / res.seconds);
    }
  }
  const base = median(rates[0]);
  return arms.map((a, k) => ({
    arm: a.name,
    [`lines/s (median of ${rounds} x ${EVENTS / 1e6} M)`]: Math.round(median(rates[k])),
    'runs (k lines/s)': rates[k].map((x) => (x / 1e3).toFixed(0)).join(' '),
    'ratio to no correlator (medians)': +(median(rates[k]) / base).toFixed(3),
    'load average (1 min) at end': +os.loadavg()[0].toFixed(2),
  }));
}

if (require.main === module && process.argv[2] === '--child') {
  const limit = Number(process.argv[4]);
  child(Number(process.argv[3]), limit > 0 ? limit : undefined, (process.argv[5] as Tap | undefined) ?? 'none').catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
