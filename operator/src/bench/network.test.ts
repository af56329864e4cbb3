// The list of object variants the network bench measures next to the default
// object (HIVE_BENCH_NET_OBJECTS): parsed, or refused with what was wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { variantsFromEnv } from './network';

test('HIVE_BENCH_NET_OBJECTS is a comma-separated list of name=path', () => {
  assert.deepEqual(variantsFromEnv(undefined), []);
  assert.deepEqual(variantsFromEnv('split=/b/split.o,percpu=/b/p=c.o'), [
    { name: 'split', objectPath: '/b/split.o' },
    { name: 'percpu', objectPath: '/b/p=c.o' },
  ]);
  assert.throws(() => variantsFromEnv('split'), /^Error: HIVE_BENCH_NET_OBJECTS: "split" is not name=path \(comma-separated list\)$/);
  assert.throws(() => variantsFromEnv('=x'), /"=x" is not name=path/);
  assert.throws(() => variantsFromEnv('a='), /"a=" is not name=path/);
});
