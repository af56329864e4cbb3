// User-space mirror of the process record (struct hive_proc_record in
// bpf/include/hive.h) that bpf/lineage.bpf.h writes into the ring buffer of
// each object that includes it (fileaccess, netmon): its layout, checked
// against each object's BTF by that monitor's layout.test.ts, and its decoder.
import { cString } from './records';

/** enum hive_proc_flag: what a process record's exe is missing. */
export const PROC_FLAG = { noExe: 0x1, truncated: 0x2 } as const;

/** HIVE_LINEAGE_DEPTH: ancestors the kernel records above a process. */
export const LINEAGE_DEPTH = 4;

/** struct hive_proc_record: one process (see process-table.ts). */
export const PROC_RECORD = {
  size: 592,
  fields: {
    start_ns: { offset: 0, size: 8 },
    parent_start_ns: { offset: 8, size: 8 },
    cgroup_id: { offset: 16, size: 8 },
    tgid: { offset: 24, size: 4 },
    ppid: { offset: 28, size: 4 },
    ns_pid: { offset: 32, size: 4 },
    uid: { offset: 36, size: 4 },
    exe_len: { offset: 40, size: 2 },
    flags: { offset: 42, size: 1 },
    pad: { offset: 43, size: 1 },
    pid_ns: { offset: 44, size: 4 },
    exe_ino: { offset: 48, size: 8 },
    exe_dev: { offset: 56, size: 4 },
    pad2: { offset: 60, size: 4 },
    comm: { offset: 64, size: 16 },
    exe: { offset: 80, size: 512 },
  },
} as const;

/** An ancestor as events show it. */
export interface Ancestor {
  pid: number;
  comm: string;
  exe: string;
}

/** What an event's process gets from the process records: one object per process, shared by its events. */
export interface Lineage {
  exe: string;
  /** The executable's inode and device (kernel encoding), when it has one: what its path cannot tell apart. */
  exeIno?: bigint;
  exeDev?: number;
  /** Inode number of the process's pid namespace (never written to events: who accessed is told from it). */
  pidNs?: number;
  /** Parent first, within the process's pid namespace, up to its init (a container's) or LINEAGE_DEPTH. */
  ancestors: Ancestor[];
}

/** A decoded struct hive_proc_record. */
export interface RawProcRecord {
  startNs: bigint;
  parentStartNs: bigint;
  cgroupId: bigint;
  tgid: number;
  ppid: number;
  nsPid: number;
  /** Inode number of its pid namespace. */
  pidNs: number;
  uid: number;
  flags: number;
  comm: string;
  /** The path, root first ("" when the task had no executable). */
  exe: string;
  /** Its executable's inode and device (0n and 0 without one). */
  exeIno: bigint;
  exeDev: number;
}

const P = PROC_RECORD.fields;

/** The exe field's components (leaf first, NUL-terminated, len bytes) as a path. */
export function exeFromComponents(buf: Buffer, at: number, len: number, flags: number): string {
  if (flags & PROC_FLAG.noExe) return '';
  const parts = buf.toString('latin1', at, at + Math.min(len, P.exe.size)).split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  parts.reverse();
  return (flags & PROC_FLAG.truncated ? '...' : '') + '/' + parts.join('/');
}

export function decodeProcRecord(buf: Buffer, at = 0): RawProcRecord {
  const flags = buf.readUInt8(at + P.flags.offset);
  return {
    startNs: u64(buf, at + P.start_ns.offset),
    parentStartNs: u64(buf, at + P.parent_start_ns.offset),
    cgroupId: u64(buf, at + P.cgroup_id.offset),
    tgid: buf.readUInt32LE(at + P.tgid.offset),
    ppid: buf.readUInt32LE(at + P.ppid.offset),
    nsPid: buf.readUInt32LE(at + P.ns_pid.offset),
    pidNs: buf.readUInt32LE(at + P.pid_ns.offset),
    uid: buf.readUInt32LE(at + P.uid.offset),
    flags,
    comm: cString(buf, at + P.comm.offset, P.comm.size),
    exe: exeFromComponents(buf, at + P.exe.offset, buf.readUInt16LE(at + P.exe_len.offset), flags),
    exeIno: u64(buf, at + P.exe_ino.offset),
    exeDev: buf.readUInt32LE(at + P.exe_dev.offset),
  };
}

/** Where a monitor's batch decoder puts process records and finds an event's lineage (process-table.ts). */
export interface LineageSink {
  add(r: RawProcRecord): void;
  lineage(tgid: number): Lineage | undefined;
}

/** readBigUInt64LE, with one BigInt made instead of three when the high half is 0. */
function u64(buf: Buffer, at: number): bigint {
  const hi = buf.readUInt32LE(at + 4);
  return hi === 0 ? BigInt(buf.readUInt32LE(at)) : buf.readBigUInt64LE(at);
}
