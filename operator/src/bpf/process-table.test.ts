import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessTable } from './process-table';
import { PROC_FLAG, RawProcRecord, decodeProcRecord, exeFromComponents } from './proc-record';
import { procBuffer } from '../testing/proc-records';

const rec = (tgid: number, ppid: number, nsPid: number, comm: string, exe: string, start = tgid * 10, parentStart = ppid * 10): RawProcRecord => ({
  startNs: BigInt(start), parentStartNs: BigInt(parentStart), cgroupId: 1n, tgid, ppid, nsPid, pidNs: 7, uid: 0, flags: 0, comm, exe, exeIno: 0n, exeDev: 0,
});

test('a lineage is the chain of parents, up to the pid namespace init', () => {
  const t = new ProcessTable();
  t.add(rec(100, 90, 1, 'entrypoint', '/entrypoint'));
  t.add(rec(101, 100, 5, 'sh', '/bin/sh'));
  t.add(rec(102, 101, 6, 'cat', '/bin/cat'));
  assert.deepEqual(t.lineage(102), {
    exe: '/bin/cat',
    pidNs: 7,
    ancestors: [
      { pid: 101, comm: 'sh', exe: '/bin/sh' },
      { pid: 100, comm: 'entrypoint', exe: '/entrypoint' },
    ],
  });
  // the init itself has no ancestors shown; an unknown tgid has no lineage
  assert.deepEqual(t.lineage(100)?.ancestors, []);
  assert.equal(t.lineage(999), undefined);
  // one object per process, shared by its events
  assert.equal(t.lineage(102), t.lineage(102));
});

test('a reused parent tgid (another start time) ends the chain; depth is bounded at 4', () => {
  const t = new ProcessTable();
  t.add(rec(50, 40, 2, 'old', '/old', 500));
  t.add(rec(51, 50, 3, 'child', '/c', 510, 499)); // its parent was another process 50
  assert.deepEqual(t.lineage(51)?.ancestors, []);
  for (let i = 1; i <= 8; i++) t.add(rec(i, i - 1, i + 10, `p${i}`, `/p${i}`));
  assert.deepEqual(t.lineage(8)?.ancestors.map((a) => a.pid), [7, 6, 5, 4]);
  // exec'd into a container: the parent (the runtime's shim) is in another pid namespace
  t.add({ ...rec(300, 200, 9, 'sh', '/bin/sh'), pidNs: 99 });
  t.add(rec(200, 1, 200, 'containerd-shim', '/usr/bin/containerd-shim-runc-v2'));
  assert.deepEqual(t.lineage(300)?.ancestors, []);
});

test('an exec (a new record of the same tgid) gives the new executable; the table is bounded', () => {
  const t = new ProcessTable(3);
  t.add(rec(7, 1, 7, 'sh', '/bin/sh'));
  assert.equal(t.lineage(7)?.exe, '/bin/sh');
  t.add(rec(7, 1, 7, 'cat', '/bin/cat'));
  assert.equal(t.lineage(7)?.exe, '/bin/cat');
  t.add(rec(8, 1, 8, 'a', '/a'));
  t.add(rec(9, 1, 9, 'b', '/b'));
  t.add(rec(10, 1, 10, 'c', '/c'));
  assert.equal(t.size, 3);
  assert.equal(t.lineage(7), undefined); // the oldest went
});

test('decodes a process record: the exe components leaf first, as a path', () => {
  assert.deepEqual(decodeProcRecord(procBuffer(['cat', 'bin', 'usr'])), {
    startNs: 123n, parentStartNs: 45n, cgroupId: 9n, tgid: 4242, ppid: 4200, nsPid: 3, pidNs: 0xeffffffc, uid: 1000, flags: 0, comm: 'cat', exe: '/usr/bin/cat', exeIno: 2n ** 40n + 7n, exeDev: (8 << 20) | 2,
  });
  assert.equal(decodeProcRecord(procBuffer(['x', 'deep'], PROC_FLAG.truncated)).exe, '.../deep/x');
  assert.equal(decodeProcRecord(procBuffer([], PROC_FLAG.noExe)).exe, '');
  assert.equal(exeFromComponents(Buffer.from('memfd:x\0'), 0, 8, 0), '/memfd:x');
});
