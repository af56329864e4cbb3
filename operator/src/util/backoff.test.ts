import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from './backoff';

test('backoff doubles up to its cap and starts over after reset', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000 });
  assert.equal(b.peek(), 100);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  assert.equal(b.next(), 100);
  const slow = new Backoff({ initialMs: 10, maxMs: 100, factor: 3 });
  assert.deepEqual([slow.next(), slow.next(), slow.next()], [10, 30, 90]);
});

test('a backoff that could not grow or would start above its cap is refused', () => {
  assert.throws(() => new Backoff({ initialMs: 0, maxMs: 10 }), /0 < initialMs <= maxMs/);
  assert.throws(() => new Backoff({ initialMs: 20, maxMs: 10 }), /0 < initialMs <= maxMs/);
  assert.throws(() => new Backoff({ initialMs: 1, maxMs: 10, factor: 0.5 }), /factor must be at least 1/);
});
