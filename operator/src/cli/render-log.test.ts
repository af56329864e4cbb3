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
