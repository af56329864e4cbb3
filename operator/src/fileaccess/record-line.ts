// A file event's JSON line written straight from its ring-buffer record into
// the writer's bytes: the same UTF-8 as JSON.stringify(toRecord(...)) with the
// pipeline's narrowing (record-line.test.ts compares the two over many records),
// without the decoded event, the record, their BigInts and strings, or a
// string of the line that had to be flattened and encoded. At node rates those
// were three quarters of the pipeline (BENCHMARKS.md). What an owner's events
// share (node, path, aliases, trace, pod, container) and what a process's share
// (exe, ancestors) are encoded once; per event only numbers, the device, the
// comm and the time are written.
import { formatDev } from '../sys/devnum';
import type { Lineage } from '../bpf/proc-record';
import { Clock } from '../output/clock';
import { FILE_EVENT, SOURCE, VERDICT, accessNames, recordCount, recordTs } from './layout';
import { AccessorInfo, WatchInfo, accessorFields } from './file-event';

const F = FILE_EVENT.fields;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** An owner's parts of its lines: before the inode, and after the cgroup id. */
export interface OwnerLine {
  head: Buffer;
  tail: Buffer;
}

/** The bytes an owner's events share, encoded once per owner. */
export function ownerLine(node: string, o: WatchInfo): OwnerLine {
  let tail = '';
  if (o.aliases?.length) tail += `,"aliases":${JSON.stringify(o.aliases)}`;
  if (o.trace) tail += `,"trace":${JSON.stringify(o.trace)}`;
  if (o.pod) tail += `,"pod":${JSON.stringify(o.pod)}`;
  if (o.container) tail += `,"container":${JSON.stringify(o.container)}`;
  return {
    head: Buffer.from(`","node":${JSON.stringify(node)},"kind":"file","path":${JSON.stringify(o.path ?? '?')},"inode":`),
    tail: Buffer.from(tail),
  };
}

/** The most bytes a line can take besides its owner's and process's parts (numbers, time, comm escaped, the constants). */
const LINE_FIXED_MAX = 640;

const ascii = (s: string) => Buffer.from(s, 'latin1');
const TIME = ascii('{"time":"');
const DEV = ascii(',"dev":"');
const ACCESS_OPEN = ascii('","access":');
const PID = ascii(',"process":{"pid":');
const TGID = ascii(',"tgid":');
const PPID = ascii(',"ppid":');
const UID = ascii(',"uid":');
const GID = ascii(',"gid":');
const COMM = ascii(',"comm":');
const CGROUP = ascii('","cgroup_id":"');
const COUNT = ascii(',"count":');

/** Copies src: a byte loop for a few bytes, TypedArray.set (a fixed ~25 ns) above that. */
function put(buf: Buffer, at: number, src: Buffer): number {
  const n = src.length;
  if (n < 16) for (let i = 0; i < n; i++) buf[at + i] = src[i];
  else buf.set(src, at);
  return at + n;
}

/** The decimal digits of a non-negative integer below 2^53. */
function digits(buf: Buffer, at: number, n: number): number {
  if (n < 10) {
    buf[at] = 48 + n;
    return at + 1;
  }
  let len = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) len++;
  let i = at + len;
  for (let x = n; x > 0; x = Math.floor(x / 10)) buf[--i] = 48 + (x % 10);
  return at + len;
}

/** A u64 as toRecord writes it: its digits, or with `json` above 2^53 a string of them (the inode). */
function u64(buf: Buffer, at: number, rec: Buffer, off: number, json: boolean): number {
  const v = rec.readUInt32LE(off + 4) * 4294967296 + rec.readUInt32LE(off);
  if (v <= MAX_SAFE) return digits(buf, at, v);
  const text = rec.readBigUInt64LE(off).toString();
  return at + buf.write(json ? `"${text}"` : text, at, 'latin1');
}

/** comm as JSON: its bytes are latin1 characters (cString), so a byte ≥ 0x80 is two bytes of UTF-8. */
function comm(buf: Buffer, at: number, rec: Buffer, off: number): number {
  const stop = off + F.comm.size;
  let i = at;
  buf[i++] = 0x22;
  for (let p = off; p < stop; p++) {
    const b = rec[p];
    if (b === 0) break;
    if (b < 0x20 || b === 0x22 || b === 0x5c) {
      // an escape: JSON.stringify's own, rare enough to take its slow way
      let end = off;
      while (end < stop && rec[end] !== 0) end++;
      return at + buf.write(JSON.stringify(rec.toString('latin1', off, end)), at, 'utf8');
    }
    if (b < 0x80) buf[i++] = b;
    else {
      buf[i++] = 0xc0 | (b >> 6);
      buf[i++] = 0x80 | (b & 0x3f);
    }
  }
  buf[i++] = 0x22;
  return i;
}

/** A small cache of encoded texts by number (device, file mode, mode+verdict): a node's events repeat few. */
class ByNumber {
  private readonly m = new Map<number, Buffer>();
  constructor(private readonly make: (n: number) => string) {}
  get(n: number): Buffer {
    let b = this.m.get(n);
    if (b === undefined) {
      b = Buffer.from(this.make(n));
      if (this.m.size >= 1024) this.m.clear();
      this.m.set(n, b);
    }
    return b;
  }
}

const DEVS = new ByNumber(formatDev);
const FILE_MODES = new ByNumber((m) => `,"file_mode":"0${m.toString(8)}`);
// `,"mode":"tracepoint","verdict":"allowed"` by source * 256 + verdict
const MODE_VERDICT = new ByNumber((k) => `,"mode":${JSON.stringify(SOURCE[k >> 8] ?? `source-${k >> 8}`)},"verdict":${JSON.stringify(VERDICT[k & 0xff] ?? 'allowed')}`);
const ACCESS_JSON = new ByNumber((mask) => JSON.stringify(accessNames(mask)));

const lineages = new WeakMap<Lineage, Buffer>();

/** `,"exe":…,"ancestors":[…]` of a process, encoded once per lineage. */
export function lineageBytes(l: Lineage): Buffer {
  let b = lineages.get(l);
  if (b === undefined) {
    const id = l.exeIno !== undefined ? `,"exe_inode":${l.exeIno <= BigInt(MAX_SAFE) ? String(l.exeIno) : `"${l.exeIno}"`},"exe_dev":${JSON.stringify(formatDev(l.exeDev ?? 0))}` : '';
    b = Buffer.from(`${l.exe !== undefined ? `,"exe":${JSON.stringify(l.exe)}` : ''}${id}${l.ancestors !== undefined ? `,"ancestors":${JSON.stringify(l.ancestors)}` : ''}`);
    lineages.set(l, b);
  }
  return b;
}

/** The ISO time of a record's timestamp as 24 bytes (Clock remembers the text; this, its bytes). */
class TimeBytes {
  private ms = NaN;
  private readonly bytes = Buffer.alloc(24);
  constructor(private readonly clock: Clock) {}
  get(monoNs: number): Buffer {
    const ms = this.clock.wallMs(monoNs);
    if (ms !== this.ms) {
      this.bytes.write(this.clock.isoOfMs(ms), 0, 'latin1');
      this.ms = ms;
    }
    return this.bytes;
  }
}

const accessorLines = new WeakMap<object, Buffer>();
const ACCESSOR_TEXT: Record<string, Buffer> = {
  pod: Buffer.from(',"accessor":"pod"'),
  host: Buffer.from(',"accessor":"host"'),
  container: Buffer.from(',"accessor":"container"'),
  'other-pod': Buffer.from(',"accessor":"other-pod"'),
};

/** `,"accessor":…` (and `,"accessor_pod":…`) of an accessor for a watch, encoded once per other pod. */
export function accessorBytes(a: AccessorInfo, info: WatchInfo): Buffer {
  const f = accessorFields(a, info);
  if (!f.accessor_pod) return ACCESSOR_TEXT[f.accessor!];
  let b = accessorLines.get(a.pod!);
  if (b === undefined) {
    b = Buffer.from(`,"accessor":"other-pod","accessor_pod":${JSON.stringify(f.accessor_pod)}`);
    accessorLines.set(a.pod!, b);
  }
  return b;
}

/**
 * Writes lines of file events from ring records. `access` is the accesses to
 * report (the record's, narrowed to the owner's), `verdict` the record's or
 * allowed (an owner without the intent), `lineage` the process's (if known).
 */
export class FileLineEncoder {
  private readonly time: TimeBytes;

  constructor(clock: Clock) {
    this.time = new TimeBytes(clock);
  }

  /** The most bytes the line of these parts can take. */
  static max(owner: OwnerLine, lineage: Buffer | undefined, accessor?: Buffer): number {
    return LINE_FIXED_MAX + owner.head.length + owner.tail.length + (lineage?.length ?? 0) + (accessor?.length ?? 0);
  }

  /** Writes one line (with its newline) at `at`; returns where it ends. */
  encode(buf: Buffer, at: number, rec: Buffer, r: number, owner: OwnerLine, access: number, verdict: number, lineage: Buffer | undefined, accessor?: Buffer): number {
    let i = put(buf, at, TIME);
    i = put(buf, i, this.time.get(recordTs(rec, r)));
    i = put(buf, i, owner.head);
    i = u64(buf, i, rec, r + F.ino.offset, true);
    i = put(buf, i, DEV);
    i = put(buf, i, DEVS.get(rec.readUInt32LE(r + F.dev.offset)));
    i = put(buf, i, ACCESS_OPEN);
    i = put(buf, i, ACCESS_JSON.get(access));
    i = put(buf, i, PID);
    i = digits(buf, i, rec.readUInt32LE(r + F.pid.offset));
    i = put(buf, i, TGID);
    i = digits(buf, i, rec.readUInt32LE(r + F.tgid.offset));
    i = put(buf, i, PPID);
    i = digits(buf, i, rec.readUInt32LE(r + F.ppid.offset));
    i = put(buf, i, UID);
    i = digits(buf, i, rec.readUInt32LE(r + F.uid.offset));
    i = put(buf, i, GID);
    i = digits(buf, i, rec.readUInt32LE(r + F.gid.offset));
    i = put(buf, i, COMM);
    i = comm(buf, i, rec, r + F.comm.offset);
    if (lineage !== undefined) i = put(buf, i, lineage);
    buf[i++] = 0x7d; // the process's }
    i = put(buf, i, MODE_VERDICT.get(rec[r + F.source.offset] * 256 + verdict));
    i = put(buf, i, FILE_MODES.get(rec.readUInt16LE(r + F.file_mode.offset)));
    i = put(buf, i, CGROUP);
    i = u64(buf, i, rec, r + F.cgroup_id.offset, false);
    buf[i++] = 0x22;
    i = put(buf, i, owner.tail);
    if (accessor !== undefined) i = put(buf, i, accessor);
    const count = recordCount(rec, r);
    if (count > 1) {
      i = put(buf, i, COUNT);
      i = digits(buf, i, count);
    }
    buf[i++] = 0x7d;
    buf[i++] = 0x0a;
    return i;
  }
}
