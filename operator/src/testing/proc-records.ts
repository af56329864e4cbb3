// Ring-buffer records as the kernel writes them, for the decoders' unit
// tests: a process record (struct hive_proc_record) and the addon's framing.
import { PROC_FLAG, PROC_RECORD } from '../bpf/proc-record';

/** What a test sets in a process record; the rest are fixed values. */
export interface ProcFields {
  tgid?: number;
  ppid?: number;
  nsPid?: number;
  start?: bigint;
  parentStart?: bigint;
  comm?: string;
}

/** A process record as the kernel writes it: exe components leaf first. */
export function procBuffer(components: string[], flags = 0, p: ProcFields = {}): Buffer {
  const b = Buffer.alloc(PROC_RECORD.size);
  const f = PROC_RECORD.fields;
  b.writeBigUInt64LE(p.start ?? 123n, f.start_ns.offset);
  b.writeBigUInt64LE(p.parentStart ?? 45n, f.parent_start_ns.offset);
  b.writeBigUInt64LE(9n, f.cgroup_id.offset);
  b.writeUInt32LE(p.tgid ?? 4242, f.tgid.offset);
  b.writeUInt32LE(p.ppid ?? 4200, f.ppid.offset);
  b.writeUInt32LE(p.nsPid ?? 3, f.ns_pid.offset);
  b.writeUInt32LE(0xeffffffc, f.pid_ns.offset);
  b.writeUInt32LE(1000, f.uid.offset);
  if (!(flags & PROC_FLAG.noExe)) {
    b.writeBigUInt64LE(2n ** 40n + 7n, f.exe_ino.offset);
    b.writeUInt32LE((8 << 20) | 2, f.exe_dev.offset);
  }
  b.writeUInt8(flags, f.flags.offset);
  b.write(p.comm ?? 'cat', f.comm.offset, 'latin1');
  const exe = Buffer.from(components.map((c) => `${c}\0`).join(''), 'latin1');
  exe.copy(b, f.exe.offset);
  b.writeUInt16LE(exe.length, f.exe_len.offset);
  return b;
}

/** The addon's batch framing of records: u32 length, u32 pad, the record padded to 8 bytes. */
export function frame(...recs: Buffer[]): Buffer {
  return Buffer.concat(
    recs.flatMap((r) => {
      const h = Buffer.alloc(8);
      h.writeUInt32LE(r.length);
      return [h, r, Buffer.alloc((8 - (r.length % 8)) % 8)];
    }),
  );
}
