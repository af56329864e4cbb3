import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cString, decodeRecords } from './records';

test('cString stops at the first NUL and never reads past its field', () => {
  const b = Buffer.alloc(40, 0x41); // 'A' everywhere: no NUL after a full field
  b.write('cat\0junk', 8, 'latin1');
  assert.equal(cString(b, 8, 16), 'cat');
  assert.equal(cString(b, 20, 16), 'A'.repeat(16), 'a full field has no NUL: all of it, none of the next');
  assert.equal(cString(Buffer.alloc(16), 0, 16), '');
  assert.equal(cString(Buffer.from([0xe9, 0xff, 0]), 0, 3), '\u00e9\u00ff', 'bytes, not UTF-8: any input decodes');
});

test('decodeRecords splits a batch, skipping records of the wrong size as malformed', () => {
  const rec = (len: number, fill: number) => {
    const r = Buffer.alloc(8 + ((len + 7) & ~7));
    r.writeUInt32LE(len, 0);
    r.fill(fill, 8, 8 + len);
    return r;
  };
  const batch = Buffer.concat([rec(4, 1), rec(12, 2), rec(4, 3)]);
  const { events, malformed } = decodeRecords(batch, 4, (b, at) => b[at]);
  assert.deepEqual(events, [1, 3]);
  assert.equal(malformed, 1);
  const cut = decodeRecords(batch.subarray(0, batch.length - 4), 4, (b, at) => b[at]);
  assert.deepEqual(cut, { events: [1], malformed: 2 }, 'a truncated record is malformed, not decoded');
});
