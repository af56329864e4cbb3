import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileEventLine, FILE_EVENT_KEYS, PROCESS_KEYS, toRecord } from './file-event';
import { Clock } from '../output/clock';
import { RawFileEvent } from './layout';

const raw: RawFileEvent = {
  tsNs: Number(process.hrtime.bigint()), ino: 817n, cgroupId: 1n, dev: (254 << 20) | 3, watchId: 1, pid: 11, tgid: 10,
  ppid: 1, uid: 0, gid: 42, access: 5, rawMask: 5, fileMode: 0o100640, source: 4, verdict: 0, comm: 'cat', count: 1, scopeNs: 0,
};
const owner = {
  path: '/etc/shadow', aliases: ['/etc/sh"adow.link'], trace: { namespace: 'ns', name: 't' },
  pod: { namespace: 'ns', name: 'web', uid: 'u-1' }, container: { name: 'app', id: 'c0ffee' },
};

test('a file event line is exactly JSON.stringify of its record', () => {
  const clock = new Clock();
  const cases = [
    toRecord(raw, owner, clock, 'node-a'),
    toRecord(raw, undefined, clock, 'node-a'),
    toRecord({ ...raw, ino: 2n ** 60n + 1n, comm: 'we"ird\\\n\u0001' }, { path: '/tmp/é ü \ud83d\ude00 "q"' }, clock, 'n'),
    toRecord({ ...raw, comm: 'lone\ud800' }, { path: '/x\u001f' }, clock, 'n'),
    { ...toRecord(raw, owner, clock, 'node-a'), count: 41 },
    { ...toRecord(raw, owner, clock, 'node-a'), count: 3, first_time: '2026-12-07T10:00:00.000Z' },
    toRecord({ ...raw, count: 7 }, owner, clock, 'node-a'),
    toRecord({ ...raw, lineage: { exe: '/usr/bin/cat', ancestors: [{ pid: 9, comm: 'sh', exe: '/bin/"sh' }] } }, { ...owner, container: { ...owner.container, image: 'reg/app:1' } }, clock, 'n'),
    toRecord({ ...raw, lineage: { exe: '', ancestors: [] } }, owner, clock, 'n'),
    toRecord({ ...raw, lineage: { exe: '/usr/bin/kubelet', exeIno: 99n, exeDev: (8 << 20) | 1, ancestors: [] } }, owner, clock, 'n'),
    toRecord({ ...raw, lineage: { exe: '/x', exeIno: 2n ** 60n, exeDev: 0, ancestors: [] } }, owner, clock, 'n'),
    toRecord(raw, owner, clock, 'n', { kind: 'host' }),
    toRecord(raw, owner, clock, 'n', { kind: 'pod', pod: { namespace: 'b', name: 'sc"anner', uid: 'u-2' } }),
    toRecord(raw, owner, clock, 'n', { kind: 'pod', pod: owner.pod }),
  ];
  for (const r of cases) assert.equal(fileEventLine(r), JSON.stringify(r));
  // the same shared objects again (cached) and a different owner after it
  assert.equal(fileEventLine(cases[0]), JSON.stringify(cases[0]));
  const other = toRecord(raw, { ...owner, trace: { namespace: 'ns', name: 'u' } }, clock, 'node-a');
  assert.equal(fileEventLine(other), JSON.stringify(other));
});

test('every key toRecord writes is one fileEventLine knows, in its order', () => {
  // a rate-limited summary has them all (count and first_time: the rate limiter's fold)
  const r = { ...toRecord(raw, owner, new Clock(), 'node-a', { kind: 'pod', pod: { namespace: 'b', name: 'scanner', uid: 'u-2' } }), count: 2, first_time: '2026-12-07T10:00:00.000Z' };
  const keys = Object.keys(r);
  assert.deepEqual(keys, FILE_EVENT_KEYS.filter((k) => keys.includes(k)));
  assert.equal(keys.length, FILE_EVENT_KEYS.length);
});

test('every key of process toRecord writes is one fileEventLine knows, in its order', () => {
  const lineage = { exe: '/usr/bin/cat', exeIno: 5n, exeDev: 1, ancestors: [{ pid: 9, comm: 'sh', exe: '/bin/sh' }] };
  assert.deepEqual(Object.keys(toRecord({ ...raw, lineage }, owner, new Clock(), 'node-a').process), PROCESS_KEYS);
  // without the kernel's process record: the same keys, less exe, its inode and device, and ancestors
  assert.deepEqual(Object.keys(toRecord(raw, owner, new Clock(), 'node-a').process), PROCESS_KEYS.slice(0, -4));
});
