import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessTable } from '../bpf/process-table';
import { frame, procBuffer } from '../testing/proc-records';
import { FILE_EVENT, decodeBatch } from './layout';

test('a batch joins each file event with the process records before it, in ring order', () => {
  const ev = Buffer.alloc(FILE_EVENT.size);
  ev.writeUInt32LE(4242, FILE_EVENT.fields.tgid.offset);
  const t = new ProcessTable();
  const { events, malformed } = decodeBatch(frame(ev, procBuffer(['cat', 'bin']), ev), t);
  assert.equal(malformed, 0);
  assert.equal(events.length, 2);
  assert.equal(events[0].lineage, undefined); // before its record
  assert.equal(events[1].lineage?.exe, '/bin/cat');
  // without a table, records are skipped, not malformed
  assert.deepEqual(decodeBatch(frame(procBuffer(['a']))), { events: [], malformed: 0 });
});
