// The decoder's view of every shared struct must be what the compiler laid out
// in the BPF object (its BTF): Tetragon's "alignchecker", for hive.h.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STRUCTS, ENUMS, FILE_EVENT, SOURCE, decodeBatch, decodeFileEvent, encodeInodeKey, encodeWatch, encodeScope, encodeScopeKey, accessNames, parseAccess, ACCESS, VERDICT } from './layout';
import { enumMismatches, layoutMismatches } from '../bpf/layout-check';

test("every shared struct of fileaccess.bpf.o matches the object's BTF", () => {
  assert.deepEqual(layoutMismatches('fileaccess', STRUCTS), []);
});

test("every enum value the decoder uses is the one in fileaccess.bpf.o's BTF, and none is missing", () => {
  assert.deepEqual(enumMismatches('fileaccess', ENUMS), []);
  // each source code the kernel can write has a mode name
  for (const code of Object.values(ENUMS.hive_source)) assert.ok(SOURCE[code], `source ${code}`);
  // and each verdict code its DESIGN.md name
  for (const code of Object.values(ENUMS.hive_file_verdict)) assert.ok(VERDICT[code], `verdict ${code}`);
  assert.deepEqual(Object.values(VERDICT).sort(), ['allowed', 'denied', 'killed', 'would-deny']);
});

test('the enum check names a wrong value, a constant either side lacks, and a missing enum', () => {
  const { HIVE_ACCESS_ALL: _all, ...lacking } = ENUMS.hive_access;
  assert.deepEqual(
    enumMismatches('fileaccess', {
      hive_access: { ...lacking, HIVE_ACCESS_EXEC: 8, HIVE_ACCESS_DELETE: 16 },
      hive_no_such_enum: { X: 1 },
    }),
    [
      'hive_access.HIVE_ACCESS_EXEC: BTF 4, decoder 8',
      'hive_access.HIVE_ACCESS_ALL: in BTF (7), not in the decoder',
      'hive_access.HIVE_ACCESS_DELETE: in the decoder, not in BTF',
      "enum hive_no_such_enum is not in fileaccess.bpf.o's BTF",
    ],
  );
});

function sampleEvent(): Buffer {
  const b = Buffer.alloc(FILE_EVENT.size);
  const f = FILE_EVENT.fields;
  b.writeBigUInt64LE(123456789012345n, f.ts_ns.offset);
  b.writeBigUInt64LE(0x1_0000_0001n, f.ino.offset);
  b.writeBigUInt64LE(42n, f.cgroup_id.offset);
  b.writeUInt32LE((8 << 20) | 1, f.dev.offset);
  b.writeUInt32LE(7, f.watch_id.offset);
  b.writeUInt32LE(1001, f.pid.offset);
  b.writeUInt32LE(1000, f.tgid.offset);
  b.writeUInt32LE(1, f.ppid.offset);
  b.writeUInt32LE(65534, f.uid.offset);
  b.writeUInt32LE(65533, f.gid.offset);
  b.writeUInt32LE(ACCESS.read | ACCESS.exec, f.access.offset);
  b.writeUInt32LE(0x24, f.raw_mask.offset);
  b.writeUInt16LE(0o100755, f.file_mode.offset);
  b.writeUInt8(4, f.source.offset);
  b.writeUInt8(2, f.verdict.offset);
  b.write('sixteen-chars-ab', f.comm.offset, 'latin1'); // no NUL: full width
  b.writeUInt32LE(250_000, f.count.offset);
  b.writeUInt32LE(4026532001, f.scope_ns.offset);
  return b;
}

test('decodes every field of a file event', () => {
  const e = decodeFileEvent(sampleEvent());
  assert.deepEqual(e, {
    tsNs: 123456789012345,
    ino: 0x1_0000_0001n,
    cgroupId: 42n,
    dev: (8 << 20) | 1,
    watchId: 7,
    pid: 1001,
    tgid: 1000,
    ppid: 1,
    uid: 65534,
    gid: 65533,
    access: ACCESS.read | ACCESS.exec,
    rawMask: 0x24,
    fileMode: 0o100755,
    source: 4,
    verdict: 2,
    comm: 'sixteen-chars-ab',
    count: 250_000,
    scopeNs: 4026532001,
  });
  // a record from a writer that leaves count 0 stands for one access
  const one = sampleEvent();
  one.writeUInt32LE(0, FILE_EVENT.fields.count.offset);
  assert.equal(decodeFileEvent(one).count, 1);
});

test('splits a poller batch and counts records of the wrong size', () => {
  const ev = sampleEvent();
  const rec = (payload: Buffer) => {
    const pad = (8 - (payload.length % 8)) % 8;
    const h = Buffer.alloc(8);
    h.writeUInt32LE(payload.length);
    return Buffer.concat([h, payload, Buffer.alloc(pad)]);
  };
  const batch = Buffer.concat([rec(ev), rec(Buffer.alloc(13)), rec(ev)]);
  const { events, malformed } = decodeBatch(batch);
  assert.equal(events.length, 2);
  assert.equal(malformed, 1);
  assert.equal(events[1].comm, 'sixteen-chars-ab');
  // a truncated last record is counted too, and never decoded
  const cut = decodeBatch(batch.subarray(0, batch.length - 4));
  assert.equal(cut.events.length, 1);
  assert.equal(cut.malformed, 2);
});

test('encodes keys and values at the given offsets', () => {
  const keys = Buffer.alloc(32);
  encodeInodeKey(5n, 9, keys, 16);
  assert.equal(keys.readBigUInt64LE(16), 5n);
  assert.equal(keys.readUInt32LE(24), 9);
  assert.deepEqual([...encodeWatch(3, 6)], [3, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const vals = Buffer.alloc(48);
  encodeWatch(4, 7, 2, 1, 4, vals, 24, 3);
  assert.deepEqual([...vals.subarray(24)], [4, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0]);
  const scope = Buffer.alloc(32);
  encodeScopeKey(5n, 9, 4026532001, scope);
  encodeScope(1, 2, 4, scope, 16);
  assert.deepEqual([scope.readBigUInt64LE(0), scope.readUInt32LE(8), scope.readUInt32LE(12)], [5n, 9, 4026532001]);
  assert.deepEqual([...scope.subarray(16)], [1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
});

test('access names and parsing', () => {
  assert.deepEqual(accessNames(7), ['read', 'write', 'exec']);
  assert.deepEqual(accessNames(2), ['write']);
  assert.equal(parseAccess('read, exec'), ACCESS.read | ACCESS.exec);
  assert.throws(() => parseAccess('read,delete'), /unknown access 'delete'; allowed: read, write, exec/);
  assert.throws(() => parseAccess(','), /empty access list/);
});
