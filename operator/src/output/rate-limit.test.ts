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
