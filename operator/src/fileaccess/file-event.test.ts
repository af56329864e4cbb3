import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prettyLine, toRecord } from './file-event';
import { Clock } from '../output/clock';
import { RawFileEvent } from './layout';

const raw: RawFileEvent = {
  tsNs: Number(process.hrtime.bigint()),
  ino: 817n,
  cgroupId: 1n,
  dev: (254 << 20) | 0,
  watchId: 1,
  pid: 11,
  tgid: 10,
  ppid: 1,
  uid: 0,
  gid: 42,
  access: 1,
  rawMask: 1,
  fileMode: 0o100640,
  source: 4,
  verdict: 0,
  comm: 'cat',
  count: 1,
  scopeNs: 0,
};

test('record carries the fields DESIGN.md names', () => {
  const before = Date.now();
  const r = toRecord(raw, { path: '/etc/shadow', aliases: ['/etc/shadow.link'] }, new Clock(), 'node-a');
  assert.equal(r.kind, 'file');
  assert.equal(r.node, 'node-a');
  assert.equal(r.path, '/etc/shadow');
  assert.deepEqual(r.aliases, ['/etc/shadow.link']);
  assert.equal(r.inode, 817);
  assert.equal(r.dev, '254:0');
  assert.deepEqual(r.access, ['read']);
  assert.deepEqual(r.process, { pid: 11, tgid: 10, ppid: 1, uid: 0, gid: 42, comm: 'cat' });
  assert.equal(r.mode, 'tracepoint');
  assert.equal(r.verdict, 'allowed');
  assert.equal(r.file_mode, '0100640');
  assert.equal(r.trace, undefined);
  assert.equal(r.pod, undefined);
  const t = Date.parse(r.time);
  assert.ok(Math.abs(t - before) < 1000, `time ${r.time} should be near now`);
});

test('huge inode numbers stay exact as strings', () => {
  const r = toRecord({ ...raw, ino: 2n ** 60n + 1n }, undefined, new Clock());
  assert.equal(r.inode, '1152921504606846977');
  assert.equal(r.path, '?');
});

test('pretty line names access, path, process', () => {
  const line = prettyLine(toRecord(raw, { path: '/etc/shadow' }, new Clock(), 'n'));
  assert.match(line, /READ +\/etc\/shadow \(ino 817 dev 254:0\) by cat\[10\] uid=0 ppid=1 via tracepoint/);
});

test('a record stands for one access unless the kernel folded more into it', () => {
  assert.equal(toRecord(raw, { path: '/x' }, new Clock(), 'n').count, undefined);
  const r = toRecord({ ...raw, count: 999 }, { path: '/x', trace: { namespace: 'ns', name: 't' } }, new Clock(), 'n');
  assert.equal(r.count, 999);
  assert.equal(Object.keys(r).at(-1), 'count');
});

test('the process lineage: exe and ancestors in the record, the chain compactly in the pretty line', () => {
  const lineage = { exe: '/usr/bin/cat', ancestors: [{ pid: 9, comm: 'sh', exe: '/bin/sh' }, { pid: 1, comm: 'entrypoint', exe: '/entrypoint' }] };
  const r = toRecord({ ...raw, lineage }, { path: '/etc/shadow', pod: { namespace: 'ns', name: 'web', uid: 'u' }, container: { name: 'app', id: 'c1', image: 'app:1' } }, new Clock(), 'n1');
  assert.deepEqual(r.process, { pid: 11, tgid: 10, ppid: 1, uid: 0, gid: 42, comm: 'cat', exe: '/usr/bin/cat', ancestors: lineage.ancestors });
  assert.equal(r.container?.image, 'app:1');
  assert.match(prettyLine(r), / by cat\[10\] ← sh ← entrypoint exe=\/usr\/bin\/cat uid=0 /);
  // no record of the process: no exe, no chain
  const bare = toRecord(raw, undefined, new Clock(), 'n1');
  assert.equal('exe' in bare.process, false);
  assert.match(prettyLine(bare), / by cat\[10\] uid=0 /);
});

test('the verdict names what was done, and the pretty line shows a stop', () => {
  assert.equal(toRecord({ ...raw, verdict: 1 }, { path: '/x' }, new Clock(), 'n').verdict, 'denied');
  assert.equal(toRecord({ ...raw, verdict: 2 }, { path: '/x' }, new Clock(), 'n').verdict, 'killed');
  assert.equal(toRecord({ ...raw, verdict: 3 }, { path: '/x' }, new Clock(), 'n').verdict, 'would-deny');
  assert.match(prettyLine(toRecord({ ...raw, verdict: 1, source: 3 }, { path: '/x' }, new Clock(), 'n')), / via lsm DENIED$/);
  assert.doesNotMatch(prettyLine(toRecord(raw, { path: '/x' }, new Clock(), 'n')), /ALLOWED/);
});
