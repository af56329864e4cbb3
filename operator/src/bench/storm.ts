// make bench, storms: a real process (build/storm, test/bench/storm.c) opens
// and reads one watched file at a fixed offered rate on one CPU while the
// agent's side runs on the other, as the agent runs it: a monitor in auto
// mode, a watch registry with one owner, the FilePipeline (enrich, rate limit)
// and the EventWriter to /dev/null. Arms: kernel aggregation on (the
// default) and off (every access a record: what a storm cost before), at
// 10^5 opens/s and flat out (what one process reaches here is reported: 10^6/s
// of open+read+close is past one core of this machine). Measured: the agent process's CPU over the storm, records out of
// the ring buffer and lines out per second, and what was lost, counted by the
// kernel; every access must be in a line's count or in the lost counter.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { ACCESS_ALL, recordCount } from '../fileaccess/layout';
import { WatchRegistry } from '../fileaccess/watch-registry';
import { FilePipeline } from '../agent/file-pipeline';
import { AgentMetrics } from '../agent/metrics';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { kernelDevFromStat } from '../sys/devnum';
import { log, Logger } from '../util/log';

type Row = Record<string, string | number>;

const repoRoot = path.resolve(__dirname, '../../..');
const STORM = path.join(repoRoot, 'build/storm');
const SECONDS = 5;

interface ChildResult {
  mode: string;
  aggregation: boolean;
  /** Accesses in the records the pipeline got (sum of count). */
  accesses: number;
  records: number;
  lines: number;
  cpuSeconds: number;
  seconds: number;
  lost: number;
  dropped: number;
  aggregated: number;
}

/**
 * The agent's side: opens, watches `file`, says "ready" on fd 3; "start" on
 * stdin starts the clock, "stop N" (N: the storm's opens) stops it once all N
 * accesses are accounted for (in records or lost), then the figures go to fd 3.
 */
async function child(file: string, aggregate: boolean): Promise<void> {
  const quiet = log.child({ module: 'bench' });
  quiet.level = 'warn';
  const { monitor } = FileAccessMonitor.open({ mode: 'auto', aggregateMs: aggregate ? 1000 : 0, log: quiet });
  const st = fs.statSync(file, { bigint: true });
  const registry = new WatchRegistry(monitor);
  registry.set('bench/storm|0b5e7a1e-0000-4000-8000-000000000002|app', [
    {
      ino: st.ino,
      dev: kernelDevFromStat(st.dev),
      path: file,
      access: ACCESS_ALL,
      trace: { namespace: 'bench', name: 'storm' },
      pod: { namespace: 'bench', name: 'looper-6c9f7d5b8-q4k2m', uid: '0b5e7a1e-0000-4000-8000-000000000002' },
      container: { name: 'app', id: '9e1c0d6e9b7a5c3e1f2d4b6a8c0e2f4a6b8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e' },
    },
  ]);
  const writer = new EventWriter();
  const pipeline = new FilePipeline(registry, writer, new Clock(), 'node-bench-1', new AgentMetrics(), () => undefined);
  let accesses = 0;
  let records = 0;
  monitor.onRecords((recs) => {
    pipeline.handle(recs);
    records += recs.at.length;
    for (const at of recs.at) accesses += recordCount(recs.buf, at);
  });
  fs.writeSync(3, 'ready\n');
  const lines = readline.createInterface({ input: process.stdin });
  let t0 = 0n;
  let c0: NodeJS.CpuUsage | undefined;
  for await (const line of lines) {
    if (line === 'start') {
      c0 = process.cpuUsage();
      t0 = process.hrtime.bigint();
      continue;
    }
    const m = /^stop (\d+)$/.exec(line);
    if (!m || !c0) continue;
    const opens = Number(m[1]);
    // the interval's last counts: flushed now, not at the next tick
    monitor.flush();
    const deadline = Date.now() + 10_000;
    while (accesses + monitor.counters().lost < opens && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await writer.drained();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    const c = monitor.counters();
    const r: ChildResult = {
      mode: monitor.mode,
      aggregation: monitor.aggregation.on,
      accesses,
      records,
      lines: writer.written + writer.dropped,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      seconds: secs,
      lost: c.lost,
      dropped: c.dropped,
      aggregated: c.aggregated,
    };
    fs.writeSync(3, JSON.stringify(r) + '\n');
    break;
  }
  lines.close();
  pipeline.stop();
  monitor.close();
}

/** Runs a command pinned to `cpu`; resolves with its stdout. */
function runPinned(cpu: number, cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('taskset', ['-c', String(cpu), cmd, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

/** One arm: the agent's side on CPU 0, the storm on the last CPU for SECONDS at `rate`. */
async function round(file: string, rate: number, aggregate: boolean): Promise<ChildResult & { opens: number; opensPerSec: number }> {
  const last = os.cpus().length - 1;
  const devnull = fs.openSync('/dev/null', 'w');
  const c = spawn('taskset', ['-c', '0', process.execPath, __filename, '--child', file, aggregate ? '1' : '0'], { stdio: ['pipe', devnull, 'inherit', 'pipe'] });
  fs.closeSync(devnull);
  const fd3 = readline.createInterface({ input: c.stdio[3] as NodeJS.ReadableStream });
  const msgs = fd3[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve, reject) => {
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`storm bench child exited with ${code}`))));
  });
  try {
    const ready = await msgs.next();
    if (ready.value !== 'ready') throw new Error(`storm bench child: expected ready, got ${String(ready.value)}`);
    c.stdin!.write('start\n');
    // rate 0: flat out, as fast as one process opens here
    const pace = rate ? ['-r', String(rate)] : [];
    const s = JSON.parse(await runPinned(last, STORM, [...pace, '-t', String(SECONDS), String(1e9), file])) as { opens: number; per_second: number };
    c.stdin!.write(`stop ${s.opens}\n`);
    const res = await msgs.next();
    await exited;
    const r = JSON.parse(String(res.value)) as ChildResult;
    return { ...r, opens: s.opens, opensPerSec: s.per_second };
  } finally {
    fd3.close();
    c.kill();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The storm arms, in rotating rounds so load drift on the machine hits each alike. */
export async function stormCost(_log: Logger, rounds = 3): Promise<Row[]> {
  if (os.cpus().length < 2) throw new Error('storm bench: needs 2 CPUs (the storm on one, the agent on the other)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-storm-'));
  const file = path.join(dir, 'app.conf');
  fs.writeFileSync(file, 'setting=1\n');
  const arms = [
    { name: '10^5/s, kernel aggregation', rate: 100_000, aggregate: true },
    { name: '10^5/s, no aggregation (one record an access)', rate: 100_000, aggregate: false },
    { name: 'flat out (10^6/s is past one process here), kernel aggregation', rate: 0, aggregate: true },
    { name: 'flat out, no aggregation', rate: 0, aggregate: false },
  ];
  const runs = arms.map(() => [] as Awaited<ReturnType<typeof round>>[]);
  try {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < arms.length; i++) {
        const k = (i + r) % arms.length;
        const res = await round(file, arms[k].rate, arms[k].aggregate);
        // nothing lost uncounted: every open is in a record's count or counted lost
        if (res.accesses + res.lost !== res.opens) throw new Error(`storm bench: ${res.opens} opens, ${res.accesses} in records + ${res.lost} lost`);
        runs[k].push(res);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return arms.map((a, k) => {
    const rs = runs[k];
    const m = (f: (x: (typeof rs)[number]) => number) => median(rs.map(f));
    return {
      arm: a.name,
      mode: rs[0].mode,
      'aggregation on': String(rs[0].aggregation),
      'opens/s achieved (storm process)': Math.round(m((x) => x.opensPerSec)),
      [`agent CPU % of one core (median of ${rounds})`]: +(100 * m((x) => x.cpuSeconds / x.seconds)).toFixed(1),
      'agent CPU % runs': rs.map((x) => (100 * x.cpuSeconds / x.seconds).toFixed(1)).join(' '),
      'records/s from the ring': Math.round(m((x) => x.records / x.seconds)),
      'lines/s out': Math.round(m((x) => x.lines / x.seconds)),
      'accesses (sum of count)': rs.map((x) => x.accesses).join(' '),
      'lost (counted, all runs)': rs.reduce((n, x) => n + x.lost, 0),
      'load average (1 min) at end': +os.loadavg()[0].toFixed(2),
    };
  });
}

if (require.main === module && process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4] === '1').catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
