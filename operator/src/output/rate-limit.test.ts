import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate-limit';

const rec = (n: number) => ({ path: `/f${n}` }) ;

test('at most N per second per key; the rest become one record with count', () => {
  let now = 0;
  const out: { path: string; count?: number }[] = [];
  const rl = new RateLimiter<{ path: string; count?: number }>((r) => out.push(r), () => now, 1_000_000);
  for (let i = 0; i < 5; i++) rl.offer('t|1', 2, rec(i));
  rl.offer('t|2', 2, rec(9)); // another process has its own budget
  assert.deepEqual(out.map((r) => r.path), ['/f0', '/f1', '/f9']);
  now = 1000;
  rl.flush(false);
  assert.deepEqual(out.map((r) => [r.path, r.count]), [['/f0', undefined], ['/f1', undefined], ['/f9', undefined], ['/f4', 3]]);
  rl.offer('t|1', undefined, rec(7)); // no limit: straight through
  assert.equal(out.at(-1)!.path, '/f7');
  rl.stop();
});

test('a record the kernel folded counts for all its accesses when it is held back', () => {
  let now = 0;
  const out: { path: string; count?: number }[] = [];
  const rl = new RateLimiter<{ path: string; count?: number }>((r) => out.push(r), () => now, 1_000_000);
  rl.offer('t|1', 1, { path: '/a', count: 5 }); // within the limit: passes with its count
  rl.offer('t|1', 1, { path: '/b', count: 1000 });
  rl.offer('t|1', 1, { path: '/c' });
  now = 1000;
  rl.flush(false);
  assert.deepEqual(out, [{ path: '/a', count: 5 }, { path: '/c', count: 1001 }]);
  const total = out.reduce((n, r) => n + (r.count ?? 1), 0);
  assert.equal(total, 5 + 1000 + 1, 'the sum of counts is the number of accesses');
  rl.stop();
});

test('held records are summarised per group: one summary per file, each with its count and first time (SECURITY-REVIEW M9)', () => {
  let now = 0;
  type R = { path: string; time: string; count?: number; first_time?: string };
  const out: R[] = [];
  const rl = new RateLimiter<R>((r) => out.push(r), () => now, 1_000_000, (last, count, first) => ({ ...last, count, first_time: first.time }));
  // the PoC: the limit filled with a benign file, the secret read among repeats of it
  const seq = ['/etc/app/config', '/etc/app/config', '/etc/app/config', '/etc/db/password', '/etc/app/config'];
  seq.forEach((p, i) => rl.offer('t|1', 2, { path: p, time: `t${i}` }, p));
  now = 1000;
  rl.flush(false);
  assert.deepEqual(out, [
    { path: '/etc/app/config', time: 't0' },
    { path: '/etc/app/config', time: 't1' },
    { path: '/etc/app/config', time: 't4', count: 2, first_time: 't2' },
    { path: '/etc/db/password', time: 't3', count: 1, first_time: 't3' },
  ]);
  assert.equal(out.reduce((n, r) => n + (r.count ?? 1), 0), seq.length, 'the sum of counts is the number of accesses');
  rl.stop();
});
