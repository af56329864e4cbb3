// What every BPF object's user-space mirror is made of: struct layouts
// (checked against the object's BTF by bpf/layout-check.ts) and ring-buffer
// batches split into fixed-size records.

export interface FieldLayout {
  offset: number;
  size: number;
}

export interface StructDef {
  size: number;
  fields: Record<string, FieldLayout>;
}

/**
 * Splits a ring-buffer batch from the addon (each record: u32 length, u32
 * pad, the record, padded to 8 bytes) and decodes records of `size` bytes.
 * Records of another size are counted as malformed, never decoded from the
 * wrong offsets.
 */
export function decodeRecords<T>(
  batch: Buffer,
  size: number,
  decode: (b: Buffer, at: number) => T,
  out: T[] = [],
): { events: T[]; malformed: number } {
  let at = 0;
  let malformed = 0;
  while (at + 8 <= batch.length) {
    const len = batch.readUInt32LE(at);
    const next = at + 8 + ((len + 7) & ~7);
    if (next > batch.length) {
      malformed++;
      break;
    }
    if (len === size) out.push(decode(batch, at + 8));
    else malformed++;
    at = next;
  }
  return { events: out, malformed };
}

