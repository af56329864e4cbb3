// The network monitor on this machine's kernel, against a small node made of
// network namespaces (testing/netns.ts): pods A and B, a cluster peer C and an
// external peer X, each behind a host-side veth. Real TC filters, real
// traffic between the namespaces, nothing faked.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ChildProcess } from 'node:child_process';
import { kernelSkip, waitFor, settle } from '../testing/kernel';
import { Topology, ifindexOf, netnsSkip, synFrame, tc, TCP_SERVER, TCP_CLIENT, UDP_SERVER, UDP_CLIENT } from '../testing/netns';
import { log } from '../util/log';
import { parseCidr, parseIp } from './addr';
import { NetMonitor } from './net-monitor';
import { InterfaceTracker } from './interface-tracker';
import { NET_FLAG } from './layout';
import { NetEventRecord, prettyNetLine, toNetRecord } from './net-event';
import { Clock } from '../output/clock';

const skip = kernelSkip() || netnsSkip();
const quiet = log.child({ test: 'netns' });
quiet.level = 'warn';

const NET = { a: '10.201.1', b: '10.201.2', c: '10.201.3', x: '198.18.5', d: '10.201.4' };
const CLUSTER = '10.201.0.0/16';
const POD_A = `${NET.a}.2`;
const CLUSTER_PEER = `${NET.c}.2`;
const EXTERNAL = `${NET.x}.2`;

// One suite, so the qemu kernel matrix can select it by name (test/kernels/guest.sh).
describe('netmon on a network-namespace node', { skip }, () => {
  let topo: Topology;
  let monitor: NetMonitor;
  let tracker: InterfaceTracker;
  const servers: ChildProcess[] = [];
  const events: NetEventRecord[] = [];

  function clientResult(r: { stdout: string }): { pid: number; port?: number; data?: string; error?: string } {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  }

  const flowsTo = (ip: string, port: number, proto: string) =>
    events.filter((e) => e.dst.ip === ip && e.dst.port === port && e.proto === proto);

  before(async () => {
    if (skip) return;
    topo = new Topology();
    for (const [name, net] of Object.entries(NET)) if (name !== 'd') topo.add(name, net);
    servers.push(await topo.serve('x', TCP_SERVER(EXTERNAL, 8080)));
    servers.push(await topo.serve('x', UDP_SERVER(EXTERNAL, 5353)));
    servers.push(await topo.serve('c', TCP_SERVER(CLUSTER_PEER, 8080)));
    monitor = NetMonitor.open({ log: quiet, summaryIntervalMs: 0 });
    monitor.setClusterCidrs([parseCidr(CLUSTER)]);
    monitor.setPod(parseIp(POD_A), 1, NET_FLAG.monitor);
    const clock = new Clock();
    monitor.onEvents((batch) => {
      for (const e of batch) events.push(toNetRecord(e, undefined, clock, monitor.interfaceName(e.ifindex)));
    });
    tracker = new InterfaceTracker(monitor, quiet, { rescanMs: 200 });
    tracker.setAddresses([parseIp(POD_A)]);
  });

  after(() => {
    tracker?.stop();
    monitor?.close();
    topo?.destroy();
  });

  test('attaches only to the veth that carries the selected pod', { skip }, () => {
    assert.deepEqual([...monitor.interfaces().values()], [topo.host('a').hostVeth]);
  });

  test('a TCP connection to the external peer: one new flow with its 5-tuple and process, then one closed summary', { skip }, async () => {
    const r = await topo.run('a', TCP_CLIENT(EXTERNAL, 8080));
    const c = clientResult(r);
    assert.equal(r.code, 0, `client failed: ${r.stdout}${r.stderr}`);
    await waitFor(() => flowsTo(EXTERNAL, 8080, 'tcp').some((e) => e.event === 'summary'), 3000, 'closed summary');
    await settle();
    const mine = flowsTo(EXTERNAL, 8080, 'tcp').filter((e) => e.src.port === c.port);
    assert.deepEqual(mine.map((e) => `${e.event}/${e.reason ?? ''}`), ['new/', 'summary/closed']);
    const [n, end] = mine;
    assert.deepEqual(n.src, { ip: POD_A, port: c.port });
    assert.deepEqual(n.dst, { ip: EXTERNAL, port: 8080 });
    assert.equal(n.scope, 'external');
    assert.equal(n.verdict, 'allowed');
    assert.equal(n.direction, 'egress');
    assert.equal(n.interface, topo.host('a').hostVeth);
    const { exe, ancestors, ...who } = n.process!;
    assert.deepEqual(who, { pid: c.pid, tgid: c.pid, uid: 0, comm: 'node' });
    assert.equal(exe, fs.realpathSync(process.execPath));
    assert.equal(ancestors?.[0]?.pid, process.pid, 'ip netns exec exec\'d node in place: its parent is the test runner');
    assert.equal(n.packets, 1, 'the new-flow event is written on the SYN');
    // SYN, ACK, (data ACK), FIN... both ways: every packet counted once, on one side
    assert.ok(end.tx.packets >= 3 && end.rx.packets >= 3, JSON.stringify(end));
    assert.equal(end.packets, end.tx.packets + end.rx.packets);
    assert.ok(end.rx.bytes > end.rx.packets * 54, 'rx bytes include the reply payload');
    assert.deepEqual(end.process, n.process);
  });

  test('a connect from a shell-started process: its exe (the real binary) and its parent chain, the shell first', { skip }, async () => {
    // sh forks node (the `exit` after it keeps sh from exec'ing it in place): node ← sh ← this test's node
    const r = await topo.runCommand('a', ['sh', '-c', '"$0" -e "$1"; exit $?', process.execPath, TCP_CLIENT(EXTERNAL, 8080)]);
    assert.equal(r.code, 0, `client failed: ${r.stdout}${r.stderr}`);
    const c = clientResult(r);
    assert.notEqual(c.pid, r.pid, 'node ran in a child of sh');
    await waitFor(() => flowsTo(EXTERNAL, 8080, 'tcp').some((e) => e.src.port === c.port && e.event === 'summary'), 3000, 'closed summary');
    const mine = flowsTo(EXTERNAL, 8080, 'tcp').filter((e) => e.src.port === c.port);
    const node = fs.realpathSync(process.execPath);
    for (const e of mine) {
      const p = e.process!;
      assert.equal(p.tgid, c.pid);
      assert.equal(p.exe, node, `${e.event}: the exe is the binary's real path`);
      const chain = p.ancestors ?? [];
      assert.deepEqual(chain[0], { pid: r.pid, comm: 'sh', exe: fs.realpathSync('/bin/sh') }, JSON.stringify(chain));
      assert.deepEqual(chain[1], { pid: process.pid, comm: 'node', exe: node }, 'then the test runner that started ip/sh');
      assert.ok(chain.length <= 4, 'bounded at 4 ancestors');
    }
    assert.match(prettyNetLine(mine[0]), new RegExp(` by node\\[${c.pid}\\] ← sh ← node.* exe=${node.replace(/[.]/g, '\\.')} uid=0`));
    console.log(`# ${JSON.stringify(mine[0])}\n# ${prettyNetLine(mine[0])}`);
  });

  test('after an exec the next connect names the new executable (the exec tracepoint forgets the process)', { skip }, async () => {
    // one process: bash connects (/dev/tcp), then execs node, which connects
    const script = `exec 3<>/dev/tcp/${EXTERNAL}/8080; exec "$0" -e "$1"`;
    const r = await topo.runCommand('a', ['bash', '-c', script, process.execPath, TCP_CLIENT(EXTERNAL, 8080)]);
    assert.equal(r.code, 0, `client failed: ${r.stdout}${r.stderr}`);
    const c = clientResult(r);
    assert.equal(c.pid, r.pid, 'bash exec\'d node in place');
    await waitFor(() => events.filter((e) => e.event === 'new' && e.process?.tgid === c.pid).length >= 2, 3000, 'both connects');
    const news = events.filter((e) => e.event === 'new' && e.process?.tgid === c.pid);
    assert.deepEqual(
      news.map((e) => [e.process!.comm, e.process!.exe]),
      [
        ['bash', fs.realpathSync('/bin/bash')],
        ['node', fs.realpathSync(process.execPath)],
      ],
    );
  });

  test('a UDP exchange with the external peer: one flow, both directions counted', { skip }, async () => {
    const r = await topo.run('a', UDP_CLIENT(EXTERNAL, 5353));
    const c = clientResult(r);
    assert.equal(r.code, 0, r.stdout);
    await waitFor(() => flowsTo(EXTERNAL, 5353, 'udp').length > 0, 3000, 'udp flow');
    await settle();
    const mine = flowsTo(EXTERNAL, 5353, 'udp').filter((e) => e.src.port === c.port);
    assert.deepEqual(mine.map((e) => e.event), ['new']);
    assert.deepEqual(mine[0].src, { ip: POD_A, port: c.port });
    assert.equal(mine[0].scope, 'external');
    assert.equal(mine[0].process, undefined, 'process attribution is for TCP connects');
    // the flow is still in the map: its counters saw the echo too
    monitor.sweepIdle(Number(process.hrtime.bigint()) + 120e9); // pretend two minutes passed
    await waitFor(() => flowsTo(EXTERNAL, 5353, 'udp').some((e) => e.reason === 'idle' && e.src.port === c.port), 2000, 'idle summary');
    const idle = flowsTo(EXTERNAL, 5353, 'udp').find((e) => e.reason === 'idle' && e.src.port === c.port)!;
    assert.deepEqual([idle.tx.packets, idle.rx.packets], [1, 1]);
    assert.equal(idle.tx.bytes, 4 + 8 + 20 + 14, 'one "ping" datagram: payload + UDP + IPv4 + Ethernet');
  });

  test('cluster traffic is scoped cluster; the unselected pod gives no event', { skip }, async () => {
    const before = events.length;
    const rb = await topo.run('b', TCP_CLIENT(EXTERNAL, 8080));
    assert.equal(rb.code, 0);
    const ra = await topo.run('a', TCP_CLIENT(CLUSTER_PEER, 8080));
    assert.equal(ra.code, 0);
    await waitFor(() => flowsTo(CLUSTER_PEER, 8080, 'tcp').length >= 2, 3000, 'cluster flow');
    await settle();
    const fresh = events.slice(before);
    assert.ok(fresh.every((e) => e.pod.ip === POD_A), `events of pod B: ${JSON.stringify(fresh.filter((e) => e.pod.ip !== POD_A))}`);
    assert.ok(fresh.every((e) => e.src.ip !== `${NET.b}.2` && e.dst.ip !== `${NET.b}.2`));
    assert.ok(flowsTo(CLUSTER_PEER, 8080, 'tcp').every((e) => e.scope === 'cluster'));
  });

  test('block-external: external connects fail and are reported blocked, cluster traffic works, monitor mode restores', { skip }, async () => {
    monitor.setPod(parseIp(POD_A), 1, NET_FLAG.monitor | NET_FLAG.blockExternal);
    const before = events.length;
    const ext = await topo.run('a', TCP_CLIENT(EXTERNAL, 8080, 1200));
    assert.equal(ext.code, 3, `external connect should fail: ${ext.stdout}`);
    assert.equal(clientResult(ext).error, 'timeout');
    const udp = await topo.run('a', UDP_CLIENT(EXTERNAL, 5353, 800));
    assert.equal(udp.code, 3, 'external UDP is dropped too');
    const cl = await topo.run('a', TCP_CLIENT(CLUSTER_PEER, 8080));
    assert.equal(cl.code, 0, 'cluster traffic keeps working');
    await settle();
    const blocked = events.slice(before).filter((e) => e.verdict === 'blocked');
    const tcpBlocked = blocked.filter((e) => e.proto === 'tcp');
    assert.equal(tcpBlocked.length, 1, `one event per blocked flow, got ${JSON.stringify(tcpBlocked)}`);
    assert.equal(tcpBlocked[0].event, 'new');
    assert.equal(tcpBlocked[0].blocked, 1);
    assert.equal(tcpBlocked[0].process?.pid, ext.pid);
    assert.ok(blocked.some((e) => e.proto === 'udp'));
    assert.ok(monitor.counters().blocked >= 2, 'SYN retransmits are dropped and counted');
    assert.ok(events.slice(before).filter((e) => e.dst.ip === CLUSTER_PEER).every((e) => e.verdict === 'allowed'));

    monitor.setPod(parseIp(POD_A), 1, NET_FLAG.monitor);
    const again = await topo.run('a', TCP_CLIENT(EXTERNAL, 8080));
    assert.equal(again.code, 0, 'back in monitor mode the external peer answers');
  });

  test('a veth created after start is picked up, and dropped when it goes', { skip }, async () => {
    const podD = `${NET.d}.2`;
    monitor.setPod(parseIp(podD), 4, NET_FLAG.monitor);
    tracker.setAddresses([parseIp(POD_A), parseIp(podD)]);
    tracker.start();
    const veth = topo.add('d', NET.d).hostVeth;
    await waitFor(() => [...monitor.interfaces().values()].includes(veth), 3000, 'new veth attached');
    const r = await topo.run('d', TCP_CLIENT(EXTERNAL, 8080));
    assert.equal(r.code, 0);
    await waitFor(() => events.some((e) => e.pod.ip === podD && e.event === 'new'), 3000, 'event from the new pod');
    topo.remove('d');
    await waitFor(() => ![...monitor.interfaces().values()].includes(veth), 3000, 'vanished veth dropped');
    tracker.stop();
    monitor.removePod(parseIp(podD));
  });

  test('close removes our filters and the qdisc we made; a filter that was there survives', { skip }, async () => {
    const a = topo.host('a').hostVeth;
    const b = topo.host('b').hostVeth;
    // Someone else's filter on B (classic BPF, prio 50), on a clsact they made.
    tc('qdisc', 'add', 'dev', b, 'clsact');
    tc('filter', 'add', 'dev', b, 'ingress', 'prio', '50', 'protocol', 'all', 'bpf', 'bytecode', '1,6 0 0 0,');
    const m = NetMonitor.open({ log: quiet });
    try {
      m.attachInterface(ifindexOf(a), a);
      m.attachInterface(ifindexOf(b), b);
      assert.match(tc('filter', 'show', 'dev', b, 'ingress'), /hive_tc_from_po/); // kernel names: 15 chars
      assert.match(tc('filter', 'show', 'dev', b, 'egress'), /hive_tc_to_pod/);
      // ours runs first: the kernel put it ahead of the existing one
      const ours = /pref (\d+) bpf [^\n]*hive_tc_from_po/.exec(tc('filter', 'show', 'dev', b, 'ingress'));
      assert.ok(ours && Number(ours[1]) < 50, 'our filter has a lower preference number than 50');
    } finally {
      m.close();
    }
    const bIngress = tc('filter', 'show', 'dev', b, 'ingress');
    assert.doesNotMatch(bIngress + tc('filter', 'show', 'dev', b, 'egress'), /hive_tc/);
    assert.match(bIngress, /pref 50 bpf .*bytecode '1,6 0 0 0'/s, 'the existing filter survives');
    assert.match(tc('qdisc', 'show', 'dev', b), /clsact/, 'the existing qdisc stays');
    // A: the long-running monitor of this file still has its filters there;
    // after its close (in after()) nothing of ours may remain — checked here on
    // a veth only this monitor touched:
    const d = topo.add('e', '10.201.5').hostVeth;
    const m2 = NetMonitor.open({ log: quiet });
    m2.attachInterface(ifindexOf(d), d);
    assert.match(tc('qdisc', 'show', 'dev', d), /clsact/);
    m2.close();
    assert.doesNotMatch(tc('qdisc', 'show', 'dev', d), /clsact/, 'the clsact qdisc we created is gone');
    assert.equal(tc('filter', 'show', 'dev', d, 'ingress').trim(), '');
    topo.remove('e');
  });

  test('per-packet cost through BPF_PROG_TEST_RUN: miss passes untouched, blocked external is dropped', { skip }, () => {
    const frame = (src: string, dst: string) => synFrame(parseIp(src), parseIp(dst));
    const m = NetMonitor.open({ log: quiet });
    try {
      m.setClusterCidrs([parseCidr(CLUSTER)]);
      m.setPod(parseIp('10.201.9.2'), 9, NET_FLAG.monitor | NET_FLAG.blockExternal);
      const miss = m.testRun('from-pod', frame('10.201.8.2', '203.0.113.7'), 100000);
      assert.equal(miss.retval, -1, 'a packet of an unselected pod goes on (TC_ACT_UNSPEC)');
      const hit = m.testRun('from-pod', frame('10.201.9.2', '10.201.3.2'), 100000);
      assert.equal(hit.retval, -1, 'cluster traffic of a blocking pod passes');
      const drop = m.testRun('from-pod', frame('10.201.9.2', '203.0.113.7'), 1000);
      assert.equal(drop.retval, 2, 'external traffic of a blocking pod is dropped (TC_ACT_SHOT)');
      assert.equal(m.flowCount(), 2);
      console.log(`# tc program: miss ${miss.nsPerRun} ns/packet, hit (existing flow) ${hit.nsPerRun} ns/packet`);
    } finally {
      m.close();
    }
  });

  test('a live flow gets a summary once per interval (reason interval), and one at its end', { skip }, async () => {
    const m = NetMonitor.open({ log: quiet, summaryIntervalMs: 200 });
    const got: { type: number; reason: number; tx: number }[] = [];
    try {
      m.setPod(parseIp('10.201.9.2'), 9, NET_FLAG.monitor);
      m.onEvents((evs) => got.push(...evs.map((e) => ({ type: e.type, reason: e.reason, tx: e.flow.txPackets }))), 10);
      const pkt = synFrame(parseIp('10.201.9.2'), parseIp('203.0.113.7'));
      m.testRun('from-pod', pkt); // new
      m.testRun('from-pod', pkt); // within the interval: nothing
      await new Promise((r) => setTimeout(r, 250));
      m.testRun('from-pod', pkt); // interval passed: a summary
      m.testRun('from-pod', pkt); // just reported: nothing
      const rst = Buffer.from(pkt);
      rst[47] = 0x04; // RST ends it
      m.testRun('from-pod', rst);
      await waitFor(() => got.length >= 3, 2000, 'three events');
      await settle();
      assert.deepEqual(got, [
        { type: 1, reason: 0, tx: 1 },
        { type: 3, reason: 1, tx: 3 },
        { type: 3, reason: 2, tx: 5 },
      ]);
    } finally {
      m.close();
    }
  });

  test('closing the monitor leaves the pod veth as it found it: no filter, no qdisc', { skip }, () => {
    const a = topo.host('a').hostVeth;
    assert.match(tc('qdisc', 'show', 'dev', a), /clsact/);
    tracker.stop();
    monitor.close();
    assert.doesNotMatch(tc('qdisc', 'show', 'dev', a), /clsact/);
    assert.equal(tc('filter', 'show', 'dev', a, 'ingress').trim() + tc('filter', 'show', 'dev', a, 'egress').trim(), '');
    monitor.close(); // idempotent
  });
});
