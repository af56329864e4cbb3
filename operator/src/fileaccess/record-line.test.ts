import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileLineEncoder, accessorBytes, lineageBytes, ownerLine } from './record-line';
import { AccessorInfo, WatchInfo, toRecord } from './file-event';
import { FILE_EVENT, RawFileEvent, encodeFileEvent } from './layout';
import { Lineage } from '../bpf/proc-record';
import { Clock } from '../output/clock';

/** A deterministic generator (xorshift32): the same records every run. */
function rng(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

const owners: WatchInfo[] = [
  {
    path: '/etc/shadow', aliases: ['/etc/sh"adow.link'], trace: { namespace: 'ns', name: 't' },
    pod: { namespace: 'ns', name: 'web', uid: 'u-1' }, container: { name: 'app', id: 'c0ffee', image: 'reg/app:1' },
  },
  { path: '/tmp/é ü \ud83d\ude00 "q"\\', trace: { namespace: 'ns', name: 't2' } },
  { path: '/x\u001f\ud800', aliases: [], pod: { namespace: 'a', name: 'b', uid: 'c' } },
  { path: '/plain' },
];
const lineages: (Lineage | undefined)[] = [
  undefined,
  { exe: '/usr/bin/cat', ancestors: [{ pid: 9, comm: 'sh', exe: '/bin/"sh' }, { pid: 1, comm: 'tini', exe: '/sbin/tini' }] },
  { exe: '', ancestors: [] },
  { exe: '/usr/bin/kubelet', exeIno: 817n, exeDev: (254 << 20) | 3, pidNs: 4026531836, ancestors: [] },
  { exe: '/x', exeIno: 2n ** 60n + 1n, exeDev: 0, ancestors: [] },
  { exe: '/opt/ünï\u0007', ancestors: [{ pid: 4294967295, comm: 'x\\y', exe: '' }] },
];
const accessors: (AccessorInfo | undefined)[] = [
  undefined,
  { kind: 'host' },
  { kind: 'container' },
  { kind: 'pod', pod: { namespace: 'ns', name: 'web', uid: 'u-1' } },
  { kind: 'pod', pod: { namespace: 'o"ther', name: 'scanner\u2028', uid: 'u-2' } },
  { kind: 'pod' },
];
const comms = ['cat', '', 'we"ird', 'back\\slash', 'nl\n', '\u0001ctl', 'é-latin1', 'ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ', 'fifteen-chars!!', '\u007fdel', '©\u0085µ\u00bf'];
const u64s = [0n, 1n, 817n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 60n + 1n, 2n ** 64n - 1n];
const u32s = [0, 1, 9, 10, 99, 100, 65535, 2 ** 31, 2 ** 32 - 1];

test("a ring record's line is exactly the UTF-8 of JSON.stringify of its narrowed record, for every owner and process", () => {
  const clock = new Clock();
  const enc = new FileLineEncoder(clock);
  const pick = rng(0x9e3779b9);
  const one = <T>(xs: T[]) => xs[pick(xs.length)];
  const rec = Buffer.alloc(FILE_EVENT.size);
  const out = Buffer.alloc(1 << 16);
  const now = Number(process.hrtime.bigint());
  for (let n = 0; n < 3000; n++) {
    const e: RawFileEvent = {
      tsNs: now + pick(4000) * 1e6 * (pick(2) ? 1 : 0.001) + pick(1000),
      ino: one(u64s), cgroupId: one(u64s), dev: pick(2) ? (254 << 20) | pick(16) : one(u32s), watchId: 1,
      pid: one(u32s), tgid: one(u32s), ppid: one(u32s), uid: one(u32s), gid: one(u32s),
      access: pick(8), rawMask: pick(8), fileMode: pick(65536), source: pick(10) === 0 ? 42 : 1 + pick(6),
      verdict: pick(10) === 0 ? 9 : pick(4), comm: one(comms), count: one([0, 1, 1, 2, 99_999, 2 ** 32 - 1]), scopeNs: one(u32s),
    };
    const o = one(owners);
    const l = one(lineages);
    const mask = e.access & one([1, 2, 4, 7, 3]);
    encodeFileEvent(e, rec);
    if (n % 7 === 0) rec.fill(0x41, FILE_EVENT.fields.comm.offset, FILE_EVENT.fields.comm.offset + FILE_EVENT.fields.comm.size); // 16 bytes, no NUL
    const decodedComm = n % 7 === 0 ? 'A'.repeat(16) : e.comm.slice(0, 15);
    const line = ownerLine('node-"a"', o);
    const lb = l ? lineageBytes(l) : undefined;
    const at = pick(100);
    const a = one(accessors);
    const ab = a ? accessorBytes(a, o) : undefined;
    const end = enc.encode(out, at, rec, 0, line, mask, e.verdict, lb, ab);
    assert.ok(end - at <= FileLineEncoder.max(line, lb, ab), 'within the bound the writer reserves');
    const want = JSON.stringify(toRecord({ ...e, comm: decodedComm, access: mask, count: e.count || 1, lineage: l }, o, clock, 'node-"a"', a));
    assert.equal(out.toString('utf8', at, end), `${want}\n`, `record ${n}`);
    // the bytes themselves, not only their decoding (a lone surrogate, say, would decode alike)
    assert.ok(out.subarray(at, end).equals(Buffer.from(`${want}\n`)), `record ${n}: bytes`);
  }
});
