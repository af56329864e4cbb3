// User-space mirror of bpf/include/hive.h. layout.test.ts compares every
// offset and size, and every enum value, here with the compiled object's BTF,
// so the two cannot drift.
import { EnumDefs, FieldLayout, cString, forEachRecord } from '../bpf/records';
// the process record, shared with netmon (bpf/lineage.bpf.h)
import { Lineage, LineageSink, PROC_FLAG, PROC_RECORD, decodeProcRecord } from '../bpf/proc-record';

export const ACCESS = { read: 0x1, write: 0x2, exec: 0x4 } as const;
export type AccessName = keyof typeof ACCESS;
export const ACCESS_NAMES = Object.keys(ACCESS) as AccessName[];
export const ACCESS_ALL = ACCESS.read | ACCESS.write | ACCESS.exec;

/** enum hive_source: which hook saw the access. */
export const SOURCE_CODE = { kprobe: 1, fentry: 2, lsm: 3, tracepointOpen: 4, tracepointExec: 5, bench: 6 } as const;
/** The mode an event reports: both tracepoints are the tracepoint mode. */
export const SOURCE: Record<number, string> = {
  [SOURCE_CODE.kprobe]: 'kprobe',
  [SOURCE_CODE.fentry]: 'fentry',
  [SOURCE_CODE.lsm]: 'lsm',
  [SOURCE_CODE.tracepointOpen]: 'tracepoint',
  [SOURCE_CODE.tracepointExec]: 'tracepoint',
  [SOURCE_CODE.bench]: 'bench',
};

/** enum hive_counter */
export const COUNTER = { matched: 0, masked: 1, emitted: 2, dropped: 3, aggregated: 4, flushed: 5, aggFull: 6, lost: 7, exempt: 8, foreign: 9 } as const;
export const COUNTER_MAX = 10;

/** enum hive_agg_state (kernel side only; checked so the two cannot drift). */
export const AGG_STATE = { open: 0, counting: 1, dead: 2 } as const;
export type CounterName = keyof typeof COUNTER;

/** enum hive_file_verdict: what was done to an access (DESIGN.md's verdict names). */
export const VERDICT_CODE = { allowed: 0, denied: 1, killed: 2, 'would-deny': 3 } as const;
export type Verdict = keyof typeof VERDICT_CODE;
export const VERDICT: Record<number, Verdict> = Object.fromEntries(Object.entries(VERDICT_CODE).map(([n, c]) => [c, n as Verdict]));

/** The values above under their C names, checked against the object's BTF (layout.test.ts). */
export const ENUMS: EnumDefs = {
  hive_access: { HIVE_ACCESS_READ: ACCESS.read, HIVE_ACCESS_WRITE: ACCESS.write, HIVE_ACCESS_EXEC: ACCESS.exec, HIVE_ACCESS_ALL: ACCESS_ALL },
  hive_source: {
    HIVE_SRC_KPROBE: SOURCE_CODE.kprobe,
    HIVE_SRC_FENTRY: SOURCE_CODE.fentry,
    HIVE_SRC_LSM: SOURCE_CODE.lsm,
    HIVE_SRC_TP_OPEN: SOURCE_CODE.tracepointOpen,
    HIVE_SRC_TP_EXEC: SOURCE_CODE.tracepointExec,
    HIVE_SRC_BENCH: SOURCE_CODE.bench,
  },
  hive_counter: {
    HIVE_CNT_MATCHED: COUNTER.matched,
    HIVE_CNT_MASKED: COUNTER.masked,
    HIVE_CNT_EMITTED: COUNTER.emitted,
    HIVE_CNT_DROPPED: COUNTER.dropped,
    HIVE_CNT_AGGREGATED: COUNTER.aggregated,
    HIVE_CNT_FLUSHED: COUNTER.flushed,
    HIVE_CNT_AGG_FULL: COUNTER.aggFull,
    HIVE_CNT_LOST: COUNTER.lost,
    HIVE_CNT_EXEMPT: COUNTER.exempt,
    HIVE_CNT_FOREIGN: COUNTER.foreign,
    HIVE_CNT_MAX: COUNTER_MAX,
  },
  hive_agg_state: { HIVE_AGG_OPEN: AGG_STATE.open, HIVE_AGG_COUNTING: AGG_STATE.counting, HIVE_AGG_DEAD: AGG_STATE.dead },
  hive_proc_flag: { HIVE_PROC_NO_EXE: PROC_FLAG.noExe, HIVE_PROC_EXE_TRUNCATED: PROC_FLAG.truncated },
  hive_file_verdict: {
    HIVE_FILE_ALLOWED: VERDICT_CODE.allowed,
    HIVE_FILE_DENIED: VERDICT_CODE.denied,
    HIVE_FILE_KILLED: VERDICT_CODE.killed,
    HIVE_FILE_WOULD_DENY: VERDICT_CODE['would-deny'],
  },
};


/** struct hive_inode_key */
export const INODE_KEY = {
  size: 16,
  fields: { ino: { offset: 0, size: 8 }, dev: { offset: 8, size: 4 }, pad: { offset: 12, size: 4 } },
} as const;

/** struct hive_watch */
export const WATCH = {
  size: 24,
  fields: {
    watch_id: { offset: 0, size: 4 },
    access_mask: { offset: 4, size: 4 },
    deny_mask: { offset: 8, size: 4 },
    kill_mask: { offset: 12, size: 4 },
    would_mask: { offset: 16, size: 4 },
    scoped_mask: { offset: 20, size: 4 },
  },
} as const;

/** struct hive_scope_key: one inode's stops for the tasks of one pid namespace. */
export const SCOPE_KEY = {
  size: 16,
  fields: { ino: { offset: 0, size: 8 }, dev: { offset: 8, size: 4 }, pid_ns: { offset: 12, size: 4 } },
} as const;

/** struct hive_scope */
export const SCOPE = {
  size: 16,
  fields: {
    deny_mask: { offset: 0, size: 4 },
    kill_mask: { offset: 4, size: 4 },
    would_mask: { offset: 8, size: 4 },
    pad: { offset: 12, size: 4 },
  },
} as const;

/** struct hive_file_event */
export const FILE_EVENT = {
  size: 88,
  fields: {
    ts_ns: { offset: 0, size: 8 },
    ino: { offset: 8, size: 8 },
    cgroup_id: { offset: 16, size: 8 },
    dev: { offset: 24, size: 4 },
    watch_id: { offset: 28, size: 4 },
    pid: { offset: 32, size: 4 },
    tgid: { offset: 36, size: 4 },
    ppid: { offset: 40, size: 4 },
    uid: { offset: 44, size: 4 },
    gid: { offset: 48, size: 4 },
    access: { offset: 52, size: 4 },
    raw_mask: { offset: 56, size: 4 },
    file_mode: { offset: 60, size: 2 },
    source: { offset: 62, size: 1 },
    verdict: { offset: 63, size: 1 },
    comm: { offset: 64, size: 16 },
    count: { offset: 80, size: 4 },
    scope_ns: { offset: 84, size: 4 },
  },
} as const;

/** struct hive_agg_key: what the kernel's storm aggregation keeps apart. */
export const AGG_KEY = {
  size: 32,
  fields: {
    ino: { offset: 0, size: 8 },
    dev: { offset: 8, size: 4 },
    watch_id: { offset: 12, size: 4 },
    tgid: { offset: 16, size: 4 },
    access: { offset: 20, size: 4 },
    verdict: { offset: 24, size: 4 },
    pad: { offset: 28, size: 4 },
  },
} as const;

/** struct hive_agg (value of the aggregate map; read by user space only in tests). */
export const AGG = {
  size: 120,
  fields: {
    tmpl: { offset: 0, size: FILE_EVENT.size },
    count: { offset: 88, size: 8 },
    state: { offset: 96, size: 8 },
    last_ts: { offset: 104, size: 8 },
    last_pid: { offset: 112, size: 4 },
    pad: { offset: 116, size: 4 },
  },
} as const;


/** Every struct the layout check compares, by its C name. */
export const STRUCTS: Record<string, { size: number; fields: Record<string, FieldLayout> }> = {
  hive_inode_key: INODE_KEY,
  hive_watch: WATCH,
  hive_scope_key: SCOPE_KEY,
  hive_scope: SCOPE,
  hive_file_event: FILE_EVENT,
  hive_agg_key: AGG_KEY,
  hive_agg: AGG,
  hive_proc_record: PROC_RECORD,
};

export function encodeInodeKey(ino: bigint, dev: number, out = Buffer.alloc(INODE_KEY.size), at = 0): Buffer {
  out.writeBigUInt64LE(ino, at + INODE_KEY.fields.ino.offset);
  out.writeUInt32LE(dev >>> 0, at + INODE_KEY.fields.dev.offset);
  out.writeUInt32LE(0, at + INODE_KEY.fields.pad.offset);
  return out;
}

/** A watched map value: the accesses to report, which of them to deny or kill, and which to report would-deny (subsets). */
export function encodeWatch(watchId: number, accessMask: number, denyMask = 0, killMask = 0, wouldMask = 0, out = Buffer.alloc(WATCH.size), at = 0, scopedMask = 0): Buffer {
  out.writeUInt32LE(watchId >>> 0, at + WATCH.fields.watch_id.offset);
  out.writeUInt32LE(accessMask >>> 0, at + WATCH.fields.access_mask.offset);
  out.writeUInt32LE(denyMask >>> 0, at + WATCH.fields.deny_mask.offset);
  out.writeUInt32LE(killMask >>> 0, at + WATCH.fields.kill_mask.offset);
  out.writeUInt32LE(wouldMask >>> 0, at + WATCH.fields.would_mask.offset);
  out.writeUInt32LE(scopedMask >>> 0, at + WATCH.fields.scoped_mask.offset);
  return out;
}

export function encodeScopeKey(ino: bigint, dev: number, pidNs: number, out = Buffer.alloc(SCOPE_KEY.size), at = 0): Buffer {
  out.writeBigUInt64LE(ino, at + SCOPE_KEY.fields.ino.offset);
  out.writeUInt32LE(dev >>> 0, at + SCOPE_KEY.fields.dev.offset);
  out.writeUInt32LE(pidNs >>> 0, at + SCOPE_KEY.fields.pid_ns.offset);
  return out;
}

/** A watch_scopes value: what the scope stops (subsets of the inode's access mask). */
export function encodeScope(deny: number, kill: number, would: number, out = Buffer.alloc(SCOPE.size), at = 0): Buffer {
  out.writeUInt32LE(deny >>> 0, at + SCOPE.fields.deny_mask.offset);
  out.writeUInt32LE(kill >>> 0, at + SCOPE.fields.kill_mask.offset);
  out.writeUInt32LE(would >>> 0, at + SCOPE.fields.would_mask.offset);
  out.writeUInt32LE(0, at + SCOPE.fields.pad.offset);
  return out;
}

/** A decoded struct hive_file_event. */
export interface RawFileEvent {
  tsNs: number;
  ino: bigint;
  cgroupId: bigint;
  dev: number;
  watchId: number;
  pid: number;
  tgid: number;
  ppid: number;
  uid: number;
  gid: number;
  access: number;
  rawMask: number;
  fileMode: number;
  source: number;
  /** enum hive_file_verdict (VERDICT names it). */
  verdict: number;
  comm: string;
  /** Accesses the record stands for: 1, or more for a storm's aggregate (the kernel folded repeats). */
  count: number;
  /** The pid namespace (inode number) whose scoped stop applied to the access; 0: none did. */
  scopeNs: number;
  /** The process's executable and ancestors, joined from its process record (absent: none seen). */
  lineage?: Lineage;
}


const F = FILE_EVENT.fields;

/** readBigUInt64LE, with one BigInt made instead of three when the high half is 0 (inode numbers, cgroup ids mostly). */
function u64(buf: Buffer, at: number): bigint {
  const hi = buf.readUInt32LE(at + 4);
  return hi === 0 ? BigInt(buf.readUInt32LE(at)) : buf.readBigUInt64LE(at);
}

/** A file record's monotonic ns as a double: exact to the ns for 104 days of uptime, then to 2 ns. */
export function recordTs(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + F.ts_ns.offset + 4) * 4294967296 + buf.readUInt32LE(at + F.ts_ns.offset);
}

/** The accesses a file record stands for: 1, or a storm aggregate's count. */
export function recordCount(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + F.count.offset) || 1;
}

export function decodeFileEvent(buf: Buffer, at = 0): RawFileEvent {
  return {
    tsNs: recordTs(buf, at),
    ino: u64(buf, at + F.ino.offset),
    cgroupId: u64(buf, at + F.cgroup_id.offset),
    dev: buf.readUInt32LE(at + F.dev.offset),
    watchId: buf.readUInt32LE(at + F.watch_id.offset),
    pid: buf.readUInt32LE(at + F.pid.offset),
    tgid: buf.readUInt32LE(at + F.tgid.offset),
    ppid: buf.readUInt32LE(at + F.ppid.offset),
    uid: buf.readUInt32LE(at + F.uid.offset),
    gid: buf.readUInt32LE(at + F.gid.offset),
    access: buf.readUInt32LE(at + F.access.offset),
    rawMask: buf.readUInt32LE(at + F.raw_mask.offset),
    fileMode: buf.readUInt16LE(at + F.file_mode.offset),
    source: buf.readUInt8(at + F.source.offset),
    verdict: buf.readUInt8(at + F.verdict.offset),
    comm: cString(buf, at + F.comm.offset, F.comm.size),
    count: recordCount(buf, at),
    scopeNs: buf.readUInt32LE(at + F.scope_ns.offset),
  };
}

/**
 * A ring-buffer batch's file events, undecoded: where each record starts in
 * `buf`, and the lineage of its process when the kernel wrote it one.
 */
export interface FileRecords {
  buf: Buffer;
  at: number[];
  lineage: (Lineage | undefined)[];
}

/**
 * Splits a ring-buffer batch: file events (their offsets), and process
 * records (told apart by their length) into `procs`, in ring order, so that
 * each event is joined with the records the kernel wrote before it. Without
 * `procs`, process records are skipped.
 */
export function splitBatch(batch: Buffer, procs?: LineageSink): { records: FileRecords; malformed: number } {
  const records: FileRecords = { buf: batch, at: [], lineage: [] };
  const malformed = forEachRecord(batch, (len, at) => {
    if (len === FILE_EVENT.size) {
      records.at.push(at);
      records.lineage.push(procs?.lineage(batch.readUInt32LE(at + F.tgid.offset)));
      return true;
    }
    if (len !== PROC_RECORD.size) return false;
    procs?.add(decodeProcRecord(batch, at));
    return true;
  });
  return { records, malformed };
}

/** The records of a batch, decoded (the CLI's trace, tests). */
export function decodeRecords(r: FileRecords): RawFileEvent[] {
  return r.at.map((at, i) => {
    const e = decodeFileEvent(r.buf, at);
    const l = r.lineage[i];
    if (l) e.lineage = l;
    return e;
  });
}

/** Splits and decodes a batch (splitBatch, decodeRecords). */
export function decodeBatch(batch: Buffer, procs?: LineageSink): { events: RawFileEvent[]; malformed: number } {
  const { records, malformed } = splitBatch(batch, procs);
  return { events: decodeRecords(records), malformed };
}

/** A ring record of `e` (tests and benchmarks: the inverse of decodeFileEvent). */
export function encodeFileEvent(e: RawFileEvent, out = Buffer.alloc(FILE_EVENT.size), at = 0): Buffer {
  out.fill(0, at, at + FILE_EVENT.size);
  out.writeUInt32LE(e.tsNs % 4294967296, at + F.ts_ns.offset);
  out.writeUInt32LE(Math.floor(e.tsNs / 4294967296), at + F.ts_ns.offset + 4);
  out.writeBigUInt64LE(e.ino, at + F.ino.offset);
  out.writeBigUInt64LE(e.cgroupId, at + F.cgroup_id.offset);
  out.writeUInt32LE(e.dev >>> 0, at + F.dev.offset);
  out.writeUInt32LE(e.watchId >>> 0, at + F.watch_id.offset);
  out.writeUInt32LE(e.pid >>> 0, at + F.pid.offset);
  out.writeUInt32LE(e.tgid >>> 0, at + F.tgid.offset);
  out.writeUInt32LE(e.ppid >>> 0, at + F.ppid.offset);
  out.writeUInt32LE(e.uid >>> 0, at + F.uid.offset);
  out.writeUInt32LE(e.gid >>> 0, at + F.gid.offset);
  out.writeUInt32LE(e.access >>> 0, at + F.access.offset);
  out.writeUInt32LE(e.rawMask >>> 0, at + F.raw_mask.offset);
  out.writeUInt16LE(e.fileMode, at + F.file_mode.offset);
  out.writeUInt8(e.source, at + F.source.offset);
  out.writeUInt8(e.verdict, at + F.verdict.offset);
  out.write(e.comm.slice(0, F.comm.size - 1), at + F.comm.offset, 'latin1');
  out.writeUInt32LE(e.count >>> 0, at + F.count.offset);
  out.writeUInt32LE((e.scopeNs ?? 0) >>> 0, at + F.scope_ns.offset);
  return out;
}

/**
 * Ring records of `events`, as a batch the way the kernel's ring buffer gives
 * it (each after an 8-byte header, padded to 8), with their lineages: tests and
 * benchmarks feed the pipeline with it.
 */
export function recordsOf(events: RawFileEvent[]): FileRecords {
  const stride = 8 + FILE_EVENT.size;
  const buf = Buffer.alloc(events.length * stride);
  const records: FileRecords = { buf, at: [], lineage: [] };
  events.forEach((e, i) => {
    buf.writeUInt32LE(FILE_EVENT.size, i * stride);
    encodeFileEvent(e, buf, i * stride + 8);
    records.at.push(i * stride + 8);
    records.lineage.push(e.lineage);
  });
  return records;
}

// one array per mask, made once: a record's access list is never changed in place (narrowing makes a new one)
const NAMES_BY_MASK = new Map<number, AccessName[]>();

/** The names of the bits of `mask`. The array is shared by every caller asking for that mask: do not change it. */
export function accessNames(mask: number): AccessName[] {
  let names = NAMES_BY_MASK.get(mask);
  if (names === undefined) {
    names = ACCESS_NAMES.filter((n) => (mask & ACCESS[n]) !== 0);
    if (NAMES_BY_MASK.size < 256) NAMES_BY_MASK.set(mask, names);
  }
  return names;
}

/** Parses "read,write" into a mask; throws with the allowed names on a bad one. */
export function parseAccess(spec: string): number {
  let mask = 0;
  for (const raw of spec.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    if (!(name in ACCESS)) {
      throw new Error(`unknown access '${name}'; allowed: ${ACCESS_NAMES.join(', ')}`);
    }
    mask |= ACCESS[name as AccessName];
  }
  if (mask === 0) throw new Error(`empty access list; allowed: ${ACCESS_NAMES.join(', ')}`);
  return mask;
}
