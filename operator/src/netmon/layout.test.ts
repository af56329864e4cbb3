// netmon's decoder against netmon.bpf.o's BTF (see bpf/layout-check.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enumMismatches, layoutMismatches } from '../bpf/layout-check';
import { EVENT_TYPE, INITIATOR, NET_ENUMS, NET_STRUCTS, REASON, SCOPE, VERDICT } from './layout';

test("every shared struct of netmon.bpf.o matches the object's BTF", () => {
  assert.deepEqual(layoutMismatches('netmon', NET_STRUCTS), []);
});

test("every enum value the decoder uses is the one in netmon.bpf.o's BTF, and none is missing", () => {
  assert.deepEqual(enumMismatches('netmon', NET_ENUMS), []);
  // every code the kernel writes decodes to a name (reason 0 is "none": no name)
  const named: [string, Record<number, string | undefined>][] = [
    ['hive_net_scope', SCOPE],
    ['hive_net_verdict', VERDICT],
    ['hive_net_initiator', INITIATOR],
    ['hive_net_event_type', EVENT_TYPE],
  ];
  for (const [e, names] of named) for (const code of Object.values(NET_ENUMS[e])) assert.ok(names[code], `${e} ${code}`);
  for (const [c, code] of Object.entries(NET_ENUMS.hive_net_reason)) assert.equal(REASON[code] === undefined, c === 'HIVE_REASON_NONE', c);
});
