import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Yielder } from './yield';

test('a loop of microtask awaits gives the event loop a turn every slice', async () => {
  const y = new Yielder(5);
  let turns = 0;
  const timer = setInterval(() => turns++, 0);
  const end = performance.now() + 60;
  while (performance.now() < end) await (y.maybe() ?? Promise.resolve());
  clearInterval(timer);
  assert.ok(turns >= 3, `the interval ran ${turns} times in 60 ms of work`);
  // and none within a slice
  const fresh = new Yielder(1000);
  assert.equal(fresh.maybe(), undefined);
});
