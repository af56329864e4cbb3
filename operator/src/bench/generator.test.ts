// The generator's argument struct must be what the compiler laid out in
// bench.bpf.o (its BTF), as the hook's structs are checked against theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutMismatches } from '../bpf/layout-check';
import { BENCH_ARGS, BENCH_OBJECT, encodeBenchArgs } from './generator';

test("struct hive_bench_args matches bench.bpf.o's BTF", () => {
  assert.deepEqual(layoutMismatches(BENCH_OBJECT, { hive_bench_args: BENCH_ARGS }), []);
});

test('the generator takes a whole event count that fits 32 bits', () => {
  assert.deepEqual([...encodeBenchArgs(1000)], [0xe8, 0x03, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => encodeBenchArgs(2 ** 32), /^HiveError: events per run must be from 0 to 4294967295, got 4294967296$/);
  assert.throws(() => encodeBenchArgs(1.5), /events per run must be a whole number/);
});
