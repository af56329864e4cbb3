// The join window of spec.correlate on hand-made records: which (read,
// connection) pairs alert, once per window, whatever order the two ring
// buffers deliver them in; blocks held and released on the pod. The real
// path (kernel events, TC, agent) is correlate.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { log } from '../util/log';
import type { FileEventRecord } from '../fileaccess/file-event';
import type { NetEventRecord } from '../netmon/net-event';
import { NET_FLAG } from '../netmon/layout';
import { AlertRecord, CorrelateSpec, Correlator, LATE_MS } from './correlator';
import { prettyAlertLine } from './alert';
import { renderAgentLine } from '../cli/render-log';
import { TraceKey, traceId } from './keys';

const T0 = Date.parse('2026-12-02T10:00:00.000Z');
const TRACE = { namespace: 'ns', name: 'secrets' };
const POD = { namespace: 'ns', name: 'web', uid: 'uid-1' };

function read(atMs: number, pod = POD, access: FileEventRecord['access'] = ['read']): FileEventRecord {
  return {
    time: new Date(T0 + atMs).toISOString(),
    node: 'n1',
    kind: 'file',
    trace: TRACE,
    pod,
    container: { name: 'app', id: 'c1' },
    path: '/etc/secret',
    inode: 42,
    dev: '0:39',
    access,
    process: { pid: 7, tgid: 7, ppid: 1, uid: 0, gid: 0, comm: 'cat' },
    mode: 'tracepoint',
    verdict: 'allowed',
    file_mode: '0100644',
    cgroup_id: '1',
  };
}

function conn(atMs: number, o: { pod?: typeof POD; scope?: 'cluster' | 'external'; event?: NetEventRecord['event']; direction?: 'egress' | 'ingress'; dst?: string } = {}): NetEventRecord {
  const pod = o.pod ?? POD;
  return {
    time: new Date(T0 + atMs).toISOString(),
    node: 'n1',
    kind: 'network',
    event: o.event ?? 'new',
    trace: TRACE,
    pod: { ...pod, ip: '10.0.0.5' },
    src: { ip: '10.0.0.5', port: 40000 },
    dst: { ip: o.dst ?? '198.18.0.2', port: 443 },
    proto: 'tcp',
    verdict: 'allowed',
    scope: o.scope ?? 'external',
    direction: o.direction ?? 'egress',
    packets: 1,
    bytes: 60,
    tx: { packets: 1, bytes: 60 },
    rx: { packets: 0, bytes: 0 },
  };
}

function setup(spec: CorrelateSpec | null = { withinSeconds: 5 }) {
  const alerts: AlertRecord[] = [];
  const holds: string[] = [];
  const changed: string[] = [];
  const clock = { now: T0 };
  let current: CorrelateSpec | undefined = spec ?? undefined;
  const c = new Correlator({
    node: 'n1',
    spec: (t: TraceKey) => (traceId(t) === traceId(TRACE) ? current : undefined),
    emit: (a) => alerts.push(a),
    hold: (uid, holder, flags) => holds.push(`${uid} ${holder} ${flags}`),
    onBlocksChanged: (t) => changed.push(traceId(t)),
    log,
    now: () => clock.now,
    sweepMs: 0,
  });
  return { c, alerts, holds, changed, clock, setSpec: (s: CorrelateSpec | undefined) => (current = s) };
}

test('a read then an external connection within the window: one alert naming both', () => {
  const { c, alerts } = setup();
  c.file(read(0));
  c.flow(conn(1200));
  assert.equal(alerts.length, 1);
  const a = alerts[0];
  assert.equal(a.kind, 'alert');
  assert.equal(a.alert, 'read-then-egress');
  assert.deepEqual(a.trace, TRACE);
  assert.deepEqual(a.pod, POD);
  assert.equal(a.delay_ms, 1200);
  assert.equal(a.reads, 1);
  assert.equal(a.file.path, '/etc/secret');
  assert.equal(a.file.process.comm, 'cat');
  assert.deepEqual([a.flow.dst.ip, a.flow.dst.port, a.flow.proto, a.flow.scope], ['198.18.0.2', 443, 'tcp', 'external']);
  assert.equal(a.time, a.flow.time);
  assert.equal(a.block, undefined);
});

test('one alert per window: later connections in it do not alert again; a new read opens a new window', () => {
  const { c, alerts } = setup();
  c.file(read(0));
  c.flow(conn(100));
  c.flow(conn(200, { dst: '198.18.0.3' }));
  c.flow(conn(4000));
  assert.equal(alerts.length, 1);
  c.file(read(4500));
  c.flow(conn(4600));
  assert.equal(alerts.length, 2);
  assert.equal(alerts[1].delay_ms, 100);
});

test('several reads before one connection: one alert, counting the reads, naming the last', () => {
  const { c, alerts } = setup();
  c.file(read(0));
  c.file(read(1000));
  c.file(read(2000));
  c.flow(conn(2500));
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].reads, 3);
  assert.equal(alerts[0].delay_ms, 500);
});

test('no alert: only a read, only a connection, a connection after the window, before the read, to the cluster, inbound', () => {
  const { c, alerts } = setup({ withinSeconds: 2 });
  c.file(read(0));
  c.flow(conn(2001));
  c.flow(conn(3000, { pod: { ...POD, uid: 'uid-2', name: 'other' } }));
  c.file(read(10_000));
  c.flow(conn(10_100, { scope: 'cluster' }));
  c.flow(conn(10_200, { direction: 'ingress' }));
  c.flow(conn(10_300, { event: 'summary' }));
  assert.deepEqual(alerts, []);
  // a connection first, then a read that happened after it (in time order too)
  const s = setup();
  s.c.flow(conn(0));
  s.c.file(read(500));
  assert.deepEqual(s.alerts, []);
});

test('write and exec are not reads; traces without correlate are ignored', () => {
  const { c, alerts } = setup();
  c.file(read(0, POD, ['write']));
  c.flow(conn(100));
  assert.deepEqual(alerts, []);
  const s = setup(null);
  s.c.file(read(0));
  s.c.flow(conn(100));
  assert.deepEqual(s.alerts, []);
});

test("the node's read of the pod's file (the kubelet's of a volume) or another pod's opens no window; the pod's own does (SECURITY-REVIEW M8)", () => {
  for (const accessor of ['host', 'other-pod', 'container'] as const) {
    const { c, alerts } = setup();
    c.file({ ...read(0), accessor });
    c.flow(conn(100));
    assert.deepEqual(alerts, [], accessor);
  }
  const { c, alerts } = setup();
  c.file({ ...read(0), accessor: 'pod' });
  c.flow(conn(100));
  assert.equal(alerts.length, 1);
});

test('a read that reaches user space after the connection it preceded still joins, once', () => {
  const { c, alerts, clock } = setup();
  c.flow(conn(300));
  clock.now = T0 + 400;
  c.file(read(100));
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].delay_ms, 200);
  c.file(read(200)); // older than the joined connection's window start: nothing pending to join
  assert.equal(alerts.length, 1);
  // kept only LATE_MS for late reads
  const s = setup();
  s.c.flow(conn(300));
  s.clock.now = T0 + 300 + LATE_MS + 1;
  s.c.sweep();
  s.c.file(read(100));
  assert.deepEqual(s.alerts, []);
});

test('pods are joined separately', () => {
  const { c, alerts } = setup();
  const other = { ...POD, name: 'other', uid: 'uid-2' };
  c.file(read(0, other));
  c.flow(conn(100));
  assert.equal(alerts.length, 0, 'the read was the other pod');
  c.flow(conn(200, { pod: other }));
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].pod.uid, 'uid-2');
});

test('an expired read is swept', () => {
  const { c, alerts, clock } = setup({ withinSeconds: 1 });
  c.file(read(0));
  clock.now = T0 + 1000 + LATE_MS + 1;
  c.sweep();
  c.flow(conn(900)); // within the window by time, but its read was forgotten: the sweep bounds memory
  assert.deepEqual(alerts, []);
});

test('block: the alert holds block-external on the pod, a later alert extends it, it ends after the seconds', () => {
  const { c, alerts, holds, changed, clock } = setup({ withinSeconds: 5, block: { seconds: 10 } });
  c.file(read(0));
  c.flow(conn(100));
  assert.deepEqual(holds, [`uid-1 ns/secrets ${NET_FLAG.blockExternal}`]);
  assert.deepEqual(alerts[0].block, { since: new Date(T0).toISOString(), until: new Date(T0 + 10_000).toISOString() });
  assert.deepEqual(c.blocks(TRACE), [{ pod: 'web', since: new Date(T0).toISOString(), until: new Date(T0 + 10_000).toISOString(), path: '/etc/secret', destination: '198.18.0.2:443' }]);
  assert.equal(c.blockedPods, 1);
  clock.now = T0 + 5000;
  c.file(read(5000));
  c.flow(conn(5100));
  assert.equal(alerts.length, 2);
  assert.equal(holds.length, 1, 'held once; extended');
  assert.equal(c.blocks(TRACE)[0].until, new Date(T0 + 15_000).toISOString());
  clock.now = T0 + 14_999;
  c.sweep();
  assert.equal(c.blockedPods, 1);
  clock.now = T0 + 15_000;
  c.sweep();
  assert.deepEqual(holds, [`uid-1 ns/secrets ${NET_FLAG.blockExternal}`, 'uid-1 ns/secrets 0']);
  assert.deepEqual(c.blocks(TRACE), []);
  assert.deepEqual(changed, ['ns/secrets', 'ns/secrets', 'ns/secrets'], 'started, extended, ended');
});

test('block: released when the trace stops asking for it, is deleted, or the pod goes', () => {
  const s = setup({ withinSeconds: 5, block: { seconds: 60 } });
  s.c.file(read(0));
  s.c.flow(conn(100));
  s.setSpec({ withinSeconds: 5 });
  s.c.sweep();
  assert.deepEqual(s.holds.slice(-1), ['uid-1 ns/secrets 0']);
  s.setSpec({ withinSeconds: 5, block: { seconds: 60 } });
  s.c.file(read(1000));
  s.c.flow(conn(1100));
  s.c.releaseTrace(TRACE);
  assert.deepEqual(s.holds.slice(-1), ['uid-1 ns/secrets 0']);
  s.c.file(read(2000));
  s.c.flow(conn(2100));
  s.c.releasePod('uid-1');
  assert.deepEqual(s.holds.slice(-1), ['uid-1 ns/secrets 0']);
  assert.equal(s.c.blockedPods, 0);
});

test('the alert renders on one line (pretty, hive logs) and hive logs --kind alert selects it', () => {
  const { c, alerts } = setup({ withinSeconds: 5, block: { seconds: 60 } });
  c.file(read(0));
  c.flow(conn(250));
  const line = prettyAlertLine(alerts[0]);
  assert.equal(line, '10:00:00.250 ALERT          read-then-egress pod=ns/web: cat[7] read /etc/secret, 250 ms later tcp 10.0.0.5:40000 -> 198.18.0.2:443 external allowed; external egress blocked until 2026-12-02T10:01:00.000Z');
  const json = JSON.stringify(alerts[0]);
  assert.equal(renderAgentLine(json), `n1 ${line}`);
  assert.equal(renderAgentLine(json, { kind: 'alert' }), `n1 ${line}`);
  assert.equal(renderAgentLine(json, { kind: 'file' }), null);
  assert.equal(renderAgentLine(json, { pod: 'ns/web', trace: 'secrets' }), `n1 ${line}`);
});

test('a read the kernel refused (denied) or stopped (killed) opens no window', () => {
  const { c, alerts } = setup();
  c.file({ ...read(0), verdict: 'denied' });
  c.file({ ...read(10), verdict: 'killed' });
  c.flow(conn(1200));
  c.sweep();
  assert.equal(alerts.length, 0);
});
