import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { RecentPids, processStart } from './recent-pids';

test("processStart reads a process's start time; none for a pid that does not exist", () => {
  const mine = processStart('/proc', process.pid);
  assert.match(mine ?? '', /^\d+$/);
  assert.equal(processStart('/proc', process.pid), mine, 'the same process, the same start');
  assert.equal(processStart('/proc', 2 ** 22 + 7), undefined); // above the kernel's largest pid_max
});

test('a pid is asked once while its process lives; concurrent asks share one call; not running is asked again', async () => {
  let asked = 0;
  let now = 0;
  let answer: number | null = process.pid;
  const pids = new RecentPids(async () => (asked++, answer), '/proc', 10_000, () => now);
  assert.deepEqual(await Promise.all([pids.pid('c1'), pids.pid('c1'), pids.pid('c1')]), [process.pid, process.pid, process.pid]);
  assert.equal(asked, 1, 'one call for three concurrent asks');
  assert.equal(await pids.pid('c1'), process.pid);
  assert.equal(asked, 1, 'kept');
  now = 10_000;
  await pids.pid('c1');
  assert.equal(asked, 2, 'asked again after the ttl');
  pids.forget('c1');
  await pids.pid('c1');
  assert.equal(asked, 3, 'asked again after a task start');
  answer = null;
  pids.forget('c2');
  assert.equal(await pids.pid('c2'), null);
  assert.equal(await pids.pid('c2'), null);
  assert.equal(asked, 5, 'not running is never kept');
});

test("a kept pid whose process exited is asked again (the runtime's answer, not a reused pid)", async () => {
  const child = spawn('sleep', ['30']);
  await new Promise((r) => child.once('spawn', r));
  let asked = 0;
  const pids = new RecentPids(async () => (asked++, child.pid!), '/proc');
  assert.equal(await pids.pid('c'), child.pid);
  assert.equal(await pids.pid('c'), child.pid);
  assert.equal(asked, 1);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(await pids.pid('c'), child.pid);
  assert.equal(asked, 2, 'its /proc entry is gone: asked again');
});

test('a failed ask is not kept: the next ask calls again', async () => {
  let asked = 0;
  const pids = new RecentPids(async () => {
    asked++;
    throw new Error('runtime down');
  }, '/proc');
  await assert.rejects(pids.pid('c'), /runtime down/);
  await assert.rejects(pids.pid('c'), /runtime down/);
  assert.equal(asked, 2);
});

test('a kept pid is checked through its open stat file, closed when forgotten or on close()', async () => {
  const child = spawn('sleep', ['30']);
  await new Promise((r) => child.once('spawn', r));
  const statOpen = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === `/proc/${child.pid}/stat`;
    } catch {
      return false;
    }
  }).length;
  try {
    let asked = 0;
    const pids = new RecentPids(async () => (asked++, child.pid!), '/proc');
    await pids.pid('c');
    assert.equal(statOpen(), 1, 'its stat file is open');
    await pids.pid('c');
    assert.equal(asked, 1);
    pids.forget('c');
    assert.equal(statOpen(), 0, 'forgotten: closed');
    await pids.pid('c');
    assert.equal(statOpen(), 1);
    pids.close();
    assert.equal(statOpen(), 0, 'close() closes it');
  } finally {
    child.kill('SIGKILL');
  }
});
