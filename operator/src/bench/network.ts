// make bench, network part: the TC program's cost per packet (BPF_PROG_TEST_RUN,
// the kernel's own timing) and TCP throughput between two namespaces with and
// without the program on the path, alternating rounds, as a ratio.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { NetMonitor } from '../netmon/net-monitor';
import { NET_FLAG } from '../netmon/layout';
import { parseCidr, parseIp } from '../netmon/addr';
import { Topology, ifindexOf, synFrame } from '../testing/netns';
import { Logger } from '../util/log';

type Row = Record<string, string | number>;

/** Rounds of the in-situ program-time pass (2 s each, bpf_stats on). */
const SITU_ROUNDS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** ns per packet: a miss (unselected pod) and a hit on an existing flow; the hit also for each variant object. */
export function tcPacketCost(log: Logger, variants: NetObjectVariant[] = []): Row[] {
  const rows: Row[] = [];
  for (const v of [{ name: '', objectPath: undefined as string | undefined }, ...variants]) {
    const m = NetMonitor.open({ log, maxFlows: 1 << 20, objectPath: v.objectPath });
    try {
      m.setClusterCidrs([parseCidr('10.0.0.0/8'), parseCidr('172.16.0.0/12'), parseCidr('fd00::/8')]);
      for (let i = 0; i < 1000; i++) m.setPod(parseIp(`10.1.${i >> 8}.${i & 255}`), i + 1, NET_FLAG.monitor);
      const runs = 1_000_000;
      const hit: [string, Buffer] = [`hit: packet of an existing flow of a selected pod${v.name ? ` (${v.name})` : ''}`, synFrame(parseIp('10.1.0.5'), parseIp('203.0.113.7'))];
      const cases: [string, Buffer][] = v.name ? [hit] : [['miss: packet of an unselected pod (1,000 pods selected)', synFrame(parseIp('10.9.0.1'), parseIp('203.0.113.7'))], hit];
      for (const [what, pkt] of cases) {
        const samples = Array.from({ length: 5 }, () => m.testRun('from-pod', pkt, runs).nsPerRun);
        const ns = median(samples);
        rows.push({ case: what, 'ns/packet (median of 5 x 1M runs)': ns, target: what.startsWith('miss') ? '<= 100' : '-', 'ratio to target': what.startsWith('miss') ? +(ns / 100).toFixed(2) : '-' });
      }
    } finally {
      m.close();
    }
  }
  return rows;
}

interface IperfRun {
  bps: number;
  seconds: number;
  /** CPU time of sender and receiver (user + system, softirqs in their context included) per byte received. */
  cpuNsPerByte: number;
}

function iperf(topo: Topology, server: string, seconds: number): IperfRun {
  const out = execFileSync('ip', ['netns', 'exec', topo.host('a').ns, 'iperf3', '-c', server, '-t', String(seconds), '-J'], { encoding: 'utf8' });
  const end = (
    JSON.parse(out) as {
      end: { sum_received: { bits_per_second: number; bytes: number; seconds: number }; cpu_utilization_percent: { host_total: number; remote_total: number } };
    }
  ).end;
  const cpuSeconds = ((end.cpu_utilization_percent.host_total + end.cpu_utilization_percent.remote_total) / 100) * end.sum_received.seconds;
  return { bps: end.sum_received.bits_per_second, seconds: end.sum_received.seconds, cpuNsPerByte: (cpuSeconds * 1e9) / end.sum_received.bytes };
}

/** Ids of the BPF programs this process holds (its fds), by program name. */
function ownPrograms(prefix: string): number[] {
  const ids: number[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let info = '';
    try {
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const id = /^prog_id:\s*(\d+)/m.exec(info)?.[1];
    if (!id) continue;
    const p = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', id, '-j'], { encoding: 'utf8' })) as { name?: string };
    if (p.name?.startsWith(prefix)) ids.push(Number(id));
  }
  return [...new Set(ids)];
}

/**
 * The kernel's own accounting of the programs' run time (kernel.bpf_stats_enabled,
 * on only for this one run, set back to what it was): ns per run in the real
 * path, cache misses and contention included, and its share of the run's CPU.
 */
function programTimeInSitu(run: () => IperfRun, prefix: string): { nsPerRun: number; cpuShare: number } {
  const knob = '/proc/sys/kernel/bpf_stats_enabled';
  const was = fs.readFileSync(knob, 'utf8').trim();
  const ids = ownPrograms(prefix);
  const read = () =>
    ids.map((id) => JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(id), '-j'], { encoding: 'utf8' })) as { run_time_ns?: number; run_cnt?: number });
  fs.writeFileSync(knob, '1');
  let r: IperfRun;
  let before: ReturnType<typeof read>;
  let after: ReturnType<typeof read>;
  try {
    before = read();
    r = run();
    after = read();
  } finally {
    fs.writeFileSync(knob, was);
  }
  let ns = 0;
  let cnt = 0;
  after.forEach((a, i) => {
    ns += (a.run_time_ns ?? 0) - (before[i].run_time_ns ?? 0);
    cnt += (a.run_cnt ?? 0) - (before[i].run_cnt ?? 0);
  });
  const bytes = (r.bps / 8) * r.seconds;
  return { nsPerRun: cnt ? ns / cnt : 0, cpuShare: ns / (r.cpuNsPerByte * bytes) };
}

/** Another build of the monitor's object to measure next to the default one (a layout under trial). */
export interface NetObjectVariant {
  name: string;
  objectPath: string;
}

/** HIVE_BENCH_NET_OBJECTS="name=path,name=path": variants measured as extra monitored arms. */
export function variantsFromEnv(v = process.env.HIVE_BENCH_NET_OBJECTS): NetObjectVariant[] {
  if (!v) return [];
  return v.split(',').map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1) throw new Error(`HIVE_BENCH_NET_OBJECTS: "${item}" is not name=path (comma-separated list)`);
    return { name: item.slice(0, eq), objectPath: item.slice(eq + 1) };
  });
}

/**
 * TCP throughput pod A -> external peer through the host: no program; the
 * program with pod A monitored (the default object, and each variant); the
 * program with pod A not selected (every packet a miss). The arms rotate
 * their order every round, so a drift of the machine's speed hits each alike.
 */
export async function tcpThroughput(log: Logger, rounds = 6, seconds = 3, variants: NetObjectVariant[] = []): Promise<Row> {
  const topo = new Topology('hvbench');
  let m: NetMonitor | undefined;
  let pidFile: string | undefined;
  try {
    topo.add('a', '10.250.1');
    topo.add('x', '198.18.250');
    // The iperf3 server's pid goes to a file, so that exactly it is stopped at the end.
    pidFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hive-bench-iperf-')), 'pid');
    await topo.serve(
      'x',
      `const c=require('child_process').spawn('iperf3',['-s','-B','198.18.250.2'],{stdio:'inherit'});` +
        `require('fs').writeFileSync(${JSON.stringify(pidFile)},String(c.pid));setTimeout(()=>console.log('listening'),300)`,
    );
    const withMonitor = <T>(selected: boolean, objectPath: string | undefined, body: () => T): T => {
      m = NetMonitor.open({ log, objectPath });
      try {
        m.setClusterCidrs([parseCidr('10.250.0.0/16')]);
        if (selected) m.setPod(parseIp('10.250.1.2'), 1, NET_FLAG.monitor);
        m.attachInterface(ifindexOf(topo.host('a').hostVeth), topo.host('a').hostVeth);
        return body();
      } finally {
        m.close();
        m = undefined;
      }
    };
    const withProgram = (selected: boolean, objectPath?: string) => () => withMonitor(selected, objectPath, () => iperf(topo, '198.18.250.2', seconds));
    const arms: { name: string; run: () => IperfRun }[] = [
      { name: 'without', run: () => iperf(topo, '198.18.250.2', seconds) },
      { name: 'monitored', run: withProgram(true) },
      ...variants.map((v) => ({ name: `monitored, ${v.name}`, run: withProgram(true, v.objectPath) })),
      { name: 'not selected', run: withProgram(false) },
    ];
    const runs = new Map<string, IperfRun[]>(arms.map((a) => [a.name, []]));
    iperf(topo, '198.18.250.2', 1); // warm-up, not counted
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < arms.length; i++) {
        const arm = arms[(i + r) % arms.length];
        runs.get(arm.name)!.push(arm.run());
      }
    }
    const bps = (name: string) => runs.get(name)!.map((x) => x.bps);
    const mOff = median(bps('without'));
    const gbit = (xs: number[]) => xs.map((x) => (x / 1e9).toFixed(1)).join(' ');
    // Each round's arm over the same round's run without: a machine that
    // slows down for a while (other work) moves both, not the ratio.
    const paired = (name: string) => +median(bps(name).map((x, r) => x / bps('without')[r])).toFixed(3);
    // CPU per byte (sender + receiver) is what the program adds to each
    // packet's path; on a loaded machine it moves far less than throughput,
    // which then depends on the CPU share iperf3 gets. without/arm: the
    // throughput ratio a CPU-bound run would show.
    const cpu = (name: string) => runs.get(name)!.map((x) => x.cpuNsPerByte);
    const cpuRatio = (name: string) => +median(cpu(name).map((x, r) => cpu('without')[r] / x)).toFixed(3);
    const row: Row = {
      'without program (Gbit/s, median)': +(mOff / 1e9).toFixed(2),
      'with program, pod monitored (Gbit/s, median)': +(median(bps('monitored')) / 1e9).toFixed(2),
      rounds,
      'seconds per run': seconds,
      'runs without (Gbit/s)': gbit(bps('without')),
      'runs with (Gbit/s)': gbit(bps('monitored')),
      'ratio with/without': +(median(bps('monitored')) / mOff).toFixed(3),
      'ratio with/without, median of rounds': paired('monitored'),
      'CPU ns per KiB without (median)': +(median(cpu('without')) * 1024).toFixed(1),
      'CPU ratio without/with, median of rounds': cpuRatio('monitored'),
    };
    for (const v of variants) {
      const name = `monitored, ${v.name}`;
      row[`runs with ${v.name} (Gbit/s)`] = gbit(bps(name));
      row[`ratio with ${v.name}/without`] = +(median(bps(name)) / mOff).toFixed(3);
      row[`ratio with ${v.name}/without, median of rounds`] = paired(name);
      row[`CPU ratio without/with ${v.name}, median of rounds`] = cpuRatio(name);
    }
    row['runs attached, pod not selected (Gbit/s)'] = gbit(bps('not selected'));
    row['ratio attached, pod not selected/without'] = +(median(bps('not selected')) / mOff).toFixed(3);
    row['ratio attached, pod not selected/without, median of rounds'] = paired('not selected');
    row['CPU ratio without/not selected, median of rounds'] = cpuRatio('not selected');
    // The programs' own time in the real path, per layout, rotating rounds.
    const objects = [{ name: 'default', objectPath: undefined as string | undefined }, ...variants];
    const situ = new Map<string, { nsPerRun: number; cpuShare: number }[]>(objects.map((o) => [o.name, []]));
    for (let r = 0; r < SITU_ROUNDS; r++) {
      for (let i = 0; i < objects.length; i++) {
        const o = objects[(i + r) % objects.length];
        situ.get(o.name)!.push(withMonitor(true, o.objectPath, () => programTimeInSitu(() => iperf(topo, '198.18.250.2', 2), 'hive_tc_')));
      }
    }
    for (const o of objects) {
      const xs = situ.get(o.name)!;
      row[`program ns/packet in situ, ${o.name} (median of ${SITU_ROUNDS})`] = +median(xs.map((x) => x.nsPerRun)).toFixed(1);
      row[`program share of the path's CPU, ${o.name} (median)`] = `${(100 * median(xs.map((x) => x.cpuShare))).toFixed(2)} %`;
    }
    row['load average (1 min) at end'] = +os.loadavg()[0].toFixed(2);
    row.target = '>= 0.95';
    return row;
  } finally {
    m?.close();
    if (pidFile) {
      try {
        process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGTERM');
      } catch {
        // never started, or already gone
      }
      fs.rmSync(path.dirname(pidFile), { recursive: true, force: true });
    }
    topo.destroy();
  }
}
