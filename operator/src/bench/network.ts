// make bench, network part: the TC program's cost per packet (BPF_PROG_TEST_RUN,
// the kernel's own timing) and TCP throughput between two namespaces with and
// without the program on the path, alternating rounds, as a ratio.
import { execFileSync } from 'node:child_process';
import { NetMonitor } from '../netmon/net-monitor';
import { NET_FLAG } from '../netmon/layout';
import { parseCidr, parseIp } from '../netmon/addr';
import { Topology, ifindexOf, synFrame } from '../testing/netns';
import { Logger } from '../util/log';

type Row = Record<string, string | number>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** ns per packet: a miss (unselected pod), a hit on an existing flow, and a new flow each run. */
export function tcPacketCost(log: Logger): Row[] {
  const m = NetMonitor.open({ log, maxFlows: 1 << 20 });
  try {
    m.setClusterCidrs([parseCidr('10.0.0.0/8'), parseCidr('172.16.0.0/12'), parseCidr('fd00::/8')]);
    for (let i = 0; i < 1000; i++) m.setPod(parseIp(`10.1.${i >> 8}.${i & 255}`), i + 1, NET_FLAG.monitor);
    const runs = 1_000_000;
    const cases: [string, Buffer][] = [
      ['miss: packet of an unselected pod (1,000 pods selected)', synFrame(parseIp('10.9.0.1'), parseIp('203.0.113.7'))],
      ['hit: packet of an existing flow of a selected pod', synFrame(parseIp('10.1.0.5'), parseIp('203.0.113.7'))],
    ];
    const rows: Row[] = [];
    for (const [what, pkt] of cases) {
      const samples = Array.from({ length: 5 }, () => m.testRun('from-pod', pkt, runs).nsPerRun);
      const ns = median(samples);
      rows.push({ case: what, 'ns/packet (median of 5 x 1M runs)': ns, target: what.startsWith('miss') ? '<= 100' : '-', 'ratio to target': what.startsWith('miss') ? +(ns / 100).toFixed(2) : '-' });
    }
    return rows;
  } finally {
    m.close();
  }
}

function iperf(topo: Topology, server: string, seconds: number): number {
  const out = execFileSync('ip', ['netns', 'exec', topo.host('a').ns, 'iperf3', '-c', server, '-t', String(seconds), '-J'], { encoding: 'utf8' });
  return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
}

/** TCP throughput pod A -> external peer through the host, program off/on in alternating rounds. */
export async function tcpThroughput(log: Logger, rounds = 6, seconds = 3): Promise<Row> {
  const topo = new Topology('hvbench');
  let m: NetMonitor | undefined;
  try {
    topo.add('a', '10.250.1');
    topo.add('x', '198.18.250');
    const server = await topo.serve('x', `require('child_process').spawn('iperf3',['-s','-B','198.18.250.2'],{stdio:'inherit'});setTimeout(()=>console.log('listening'),300)`);
    void server;
    const off: number[] = [];
    const on: number[] = [];
    const miss: number[] = [];
    const withProgram = (selected: boolean) => {
      m = NetMonitor.open({ log });
      m.setClusterCidrs([parseCidr('10.250.0.0/16')]);
      if (selected) m.setPod(parseIp('10.250.1.2'), 1, NET_FLAG.monitor);
      m.attachInterface(ifindexOf(topo.host('a').hostVeth), topo.host('a').hostVeth);
      (selected ? on : miss).push(iperf(topo, '198.18.250.2', seconds));
      m.close();
      m = undefined;
    };
    const without = () => off.push(iperf(topo, '198.18.250.2', seconds));
    iperf(topo, '198.18.250.2', 1); // warm-up, not counted
    // the order turns every round, so a drift of the machine's speed cancels out
    const arms = [without, () => withProgram(true), () => withProgram(false)];
    for (let r = 0; r < rounds; r++) for (let i = 0; i < arms.length; i++) arms[(i + r) % arms.length]();
    const mOff = median(off);
    const mOn = median(on);
    return {
      'without program (Gbit/s, median)': +(mOff / 1e9).toFixed(2),
      'with program, pod monitored (Gbit/s, median)': +(mOn / 1e9).toFixed(2),
      rounds,
      'seconds per run': seconds,
      'runs without (Gbit/s)': off.map((x) => (x / 1e9).toFixed(1)).join(' '),
      'runs with (Gbit/s)': on.map((x) => (x / 1e9).toFixed(1)).join(' '),
      'ratio with/without': +(mOn / mOff).toFixed(3),
      'ratio attached, pod not selected/without': +(median(miss) / mOff).toFixed(3),
      target: '>= 0.95',
    };
  } finally {
    m?.close();
    try {
      execFileSync('pkill', ['-f', 'iperf3 -s -B 198.18.250.2']);
    } catch {
      // already gone
    }
    topo.destroy();
  }
}
