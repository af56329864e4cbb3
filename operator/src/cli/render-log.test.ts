import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderAgentLine } from './render-log';

test('hive logs shows a file event with its process chain, and skips the agent own logs', () => {
  const ev = {
    time: '2026-12-02T16:15:40.652Z', node: 'n1', kind: 'file', path: '/etc/shadow', inode: 5, dev: '0:39', access: ['read'],
    process: { pid: 12, tgid: 12, ppid: 11, uid: 0, gid: 0, comm: 'cat', exe: '/bin/busybox', ancestors: [{ pid: 11, comm: 'sh', exe: '/bin/busybox' }, { pid: 1, comm: 'entrypoint', exe: '/entrypoint' }] },
    mode: 'kprobe', file_mode: '0100640', cgroup_id: '1', trace: { namespace: 'ns', name: 't' }, pod: { namespace: 'ns', name: 'web', uid: 'u' }, container: { name: 'app', id: 'c', image: 'app:1' },
  };
  assert.equal(
    renderAgentLine(JSON.stringify(ev)),
    'n1 16:15:40.652 READ       /etc/shadow (ino 5 dev 0:39) by cat[12] ← sh ← entrypoint exe=/bin/busybox uid=0 ppid=11 pod=ns/web container=app via kprobe',
  );
  assert.equal(renderAgentLine('{"level":30,"msg":"ready"}'), null);
});

test('hive logs shows a network event with its process chain, like a file line; a flow without a process has none', () => {
  const ev = {
    time: '2026-12-03T10:31:34.731Z', node: 'n1', kind: 'network', event: 'new', pod: { namespace: 'ns', name: 'web', uid: 'u', ip: '10.201.1.2' },
    src: { ip: '10.201.1.2', port: 43948 }, dst: { ip: '198.18.5.2', port: 8080 }, proto: 'tcp', verdict: 'allowed', scope: 'external', direction: 'egress',
    packets: 1, bytes: 74, tx: { packets: 1, bytes: 74 }, rx: { packets: 0, bytes: 0 }, trace: { namespace: 'ns', name: 't' },
    process: { pid: 25599, tgid: 25599, uid: 0, comm: 'curl', exe: '/usr/bin/curl', ancestors: [{ pid: 25598, comm: 'sh', exe: '/usr/bin/dash' }, { pid: 1, comm: 'entrypoint', exe: '/entrypoint' }] },
  };
  assert.equal(
    renderAgentLine(JSON.stringify(ev)),
    'n1 10:31:34.731 NEW            tcp 10.201.1.2:43948 -> 198.18.5.2:8080 external allowed pkts=1 bytes=74 by curl[25599] ← sh ← entrypoint exe=/usr/bin/curl uid=0 pod=ns/web',
  );
  // lines written before network events had lineage (and UDP/inbound flows) render as before
  const { process: p, ...udp } = ev;
  assert.equal(renderAgentLine(JSON.stringify({ ...udp, process: { pid: p.pid, tgid: p.tgid, uid: 0, comm: 'curl' } }))?.endsWith(' by curl[25599] uid=0 pod=ns/web'), true);
  assert.equal(renderAgentLine(JSON.stringify({ ...udp, proto: 'udp' }))?.endsWith(' bytes=74 pod=ns/web'), true);
});

test('hive logs escapes what a workload names: a comm, a file name and an exe with escape sequences, newlines and bidi controls stay one inert line (SECURITY-REVIEW L1)', () => {
  const ev = {
    time: '2026-12-02T16:15:40.652Z', node: 'n1\u001b]0;x\u0007', kind: 'file', path: '/etc/a\nn1 16:15:41.000 READ       /etc/forged', inode: 5, dev: '0:39', access: ['read'],
    process: { pid: 12, tgid: 12, ppid: 11, uid: 0, gid: 0, comm: 'a\u001b[2Kb\nX', exe: '/bin/\u202etxt.exe', ancestors: [{ pid: 11, comm: 'sh\u009b1A', exe: '/bin/busybox' }] },
    mode: 'kprobe', file_mode: '0100640', cgroup_id: '1', pod: { namespace: 'ns', name: 'web', uid: 'u' }, container: { name: 'app', id: 'c', image: 'app:1' },
  };
  const line = renderAgentLine(JSON.stringify(ev))!;
  assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, JSON.stringify(line));
  assert.equal(
    line,
    'n1\\x1b]0;x\\x07 16:15:40.652 READ       /etc/a\\x0an1 16:15:41.000 READ       /etc/forged (ino 5 dev 0:39) by a\\x1b[2Kb\\x0aX[12] ← sh\\x9b1A exe=/bin/\\u{202e}txt.exe uid=0 ppid=11 pod=ns/web container=app via kprobe',
  );
  // a backslash is escaped too, so that an escape in the output always means a byte of the name
  assert.match(renderAgentLine(JSON.stringify({ ...ev, node: 'n1', path: '/etc/\\x1b' }))!, / \/etc\/\\\\x1b \(ino/);
  // JSON stays exact
  assert.equal(renderAgentLine(JSON.stringify(ev), { json: true }), JSON.stringify(ev));
});
