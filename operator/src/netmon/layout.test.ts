// netmon's decoder against netmon.bpf.o's BTF (see bpf/layout-check.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutMismatches } from '../bpf/layout-check';
import { NET_STRUCTS } from './layout';

test("every shared struct of netmon.bpf.o matches the object's BTF", () => {
  assert.deepEqual(layoutMismatches('netmon', NET_STRUCTS), []);
});
