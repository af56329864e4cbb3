import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './work-queue';

type Cause = 'a' | 'b' | 'c' | 'retry';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A gate a run waits on, opened by the test. */
function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

test('adds of a queued or running key coalesce into one more run, with every cause', async () => {
  const runs: { key: string; causes: Cause[] }[] = [];
  const g = gate();
  const q = new WorkQueue<string, Cause>({
    id: (k) => k,
    retryCause: 'retry',
    work: async (key, causes) => {
      runs.push({ key, causes: [...causes] });
      if (runs.length === 1) await g.p;
    },
  });
  q.add('x', 'a'); // starts at once
  q.add('x', 'b');
  q.add('x', 'c');
  q.add('x', 'b');
  assert.equal(runs.length, 1);
  g.open();
  await sleep(10);
  await q.drained();
  assert.deepEqual(runs, [
    { key: 'x', causes: ['a'] },
    { key: 'x', causes: ['b', 'c'] },
  ]);
});

test('one run per key at a time; different keys run side by side up to the worker count', async () => {
  const active = new Map<string, number>();
  let maxPerKey = 0;
  let maxAll = 0;
  const q = new WorkQueue<{ id: string }, Cause>({
    id: (k) => k.id,
    retryCause: 'retry',
    workers: 2,
    work: async (k) => {
      active.set(k.id, (active.get(k.id) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, active.get(k.id)!);
      maxAll = Math.max(maxAll, [...active.values()].reduce((s, n) => s + n, 0));
      await sleep(15);
      active.set(k.id, active.get(k.id)! - 1);
    },
  });
  for (let i = 0; i < 5; i++) for (const id of ['p', 'q', 'r']) q.add({ id }, 'a');
  await sleep(5);
  assert.equal(q.size, 3, 'p and q running, r queued: 3 keys, not 15 adds');
  while (q.size) await q.drained();
  assert.equal(maxPerKey, 1);
  assert.equal(maxAll, 2);
});

test('a failing key is retried with doubling delays; a success resets the backoff', async () => {
  const times: number[] = [];
  const causes: Cause[][] = [];
  const errors: number[] = [];
  let fail = 3;
  const q = new WorkQueue<string, Cause>({
    id: (k) => k,
    retryCause: 'retry',
    baseDelayMs: 40,
    maxDelayMs: 1000,
    onError: (_k, _e, retryInMs) => errors.push(retryInMs),
    work: async (_k, c) => {
      times.push(Date.now());
      causes.push([...c]);
      if (fail-- > 0) throw new Error('runtime down');
    },
  });
  q.add('k', 'a');
  const deadline = Date.now() + 3000;
  while (times.length < 4 && Date.now() < deadline) await sleep(5);
  assert.equal(times.length, 4, 'three failures, then the success');
  assert.deepEqual(errors, [40, 80, 160]);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  gaps.forEach((g, i) => assert.ok(g >= errors[i] - 2, `retry ${i + 1} after ${g} ms, before its ${errors[i]} ms backoff`));
  assert.ok(gaps[2] > gaps[0] * 2, `backoff grows: ${gaps}`);
  assert.deepEqual(causes.slice(1), [['retry'], ['retry'], ['retry']]);
  assert.equal(q.failuresOf('k'), 0);
  // the next failure starts from the base delay again
  fail = 1;
  q.add('k', 'b');
  await q.drained();
  assert.deepEqual(errors, [40, 80, 160, 40]);
  await q.stop();
});

test('the backoff stops at its maximum; stop() drops pending retries', async () => {
  const errors: number[] = [];
  let runs = 0;
  const q = new WorkQueue<string, Cause>({
    id: (k) => k,
    retryCause: 'retry',
    baseDelayMs: 5,
    maxDelayMs: 20,
    onError: (_k, _e, ms) => errors.push(ms),
    work: async () => {
      runs++;
      throw new Error('always');
    },
  });
  q.add('k', 'a');
  const deadline = Date.now() + 3000;
  while (errors.length < 5 && Date.now() < deadline) await sleep(5);
  assert.deepEqual(errors.slice(0, 5), [5, 10, 20, 20, 20]);
  await q.stop();
  const n = runs;
  await sleep(60);
  assert.equal(runs, n, 'no retry after stop');
  q.add('k', 'a');
  assert.equal(runs, n, 'no run after stop');
});

test('a paused queue keeps its adds (coalesced) and runs them on resume', async () => {
  const runs: string[] = [];
  const q = new WorkQueue<string, Cause>({
    id: (k) => k,
    retryCause: 'retry',
    paused: true,
    work: async (k, causes) => {
      runs.push(`${k}:${causes.join('+')}`);
    },
  });
  q.add('a', 'a');
  q.add('a', 'b');
  q.add('b', 'a');
  await sleep(20);
  assert.deepEqual(runs, [], 'nothing runs while paused');
  assert.equal(q.size, 2);
  q.resume();
  const deadline = Date.now() + 2000;
  while (runs.length < 2 && Date.now() < deadline) await sleep(5);
  assert.deepEqual(runs, ['a:a+b', 'b:a']);
  await q.stop();
});
