// What every BPF object's user-space mirror is made of: struct layouts
// (checked against the object's BTF by bpf/layout-check.ts) and ring-buffer
// batches split into fixed-size records, and the C strings inside them.

export interface FieldLayout {
  offset: number;
  size: number;
}

export interface StructDef {
  size: number;
  fields: Record<string, FieldLayout>;
}

/** C enums by name, each constant by its C name with the value the decoder uses. */
export type EnumDefs = Record<string, Record<string, number>>;

/** code -> name, from a name -> code table: the decoder's direction. */
export function byCode<K extends string>(codes: Readonly<Record<K, number>>): Record<number, K> {
  const out: Record<number, K> = {};
  for (const [name, code] of Object.entries(codes) as [K, number][]) out[code] = name;
  return out;
}

/**
 * Walks a ring-buffer batch from the addon (each record: u32 length, u32 pad,
 * the record, padded to 8 bytes), handing each record's length and offset to
 * `each`, which returns false for a length it does not know. Returns the
 * records counted as malformed: unknown lengths and a truncated tail (never
 * decoded from the wrong offsets).
 */
export function forEachRecord(batch: Buffer, each: (len: number, at: number) => boolean): number {
  let at = 0;
  let malformed = 0;
  while (at + 8 <= batch.length) {
    const len = batch.readUInt32LE(at);
    const next = at + 8 + ((len + 7) & ~7);
    if (next > batch.length) {
      malformed++;
      break;
    }
    if (!each(len, at + 8)) malformed++;
    at = next;
  }
  return malformed;
}

/** The records of `size` bytes of a batch, decoded; records of another size are counted as malformed. */
export function decodeRecords<T>(
  batch: Buffer,
  size: number,
  decode: (b: Buffer, at: number) => T,
  out: T[] = [],
): { events: T[]; malformed: number } {
  const malformed = forEachRecord(batch, (len, at) => len === size && out.push(decode(batch, at)) > 0);
  return { events: out, malformed };
}


/**
 * A NUL-terminated string in a fixed-width char array (`char comm[16]`):
 * the bytes up to the first NUL, or all `width` when the kernel filled it.
 * latin1 maps each byte to one character, so no input can fail to decode.
 */
export function cString(buf: Buffer, at: number, width: number): string {
  // a byte loop, not subarray + indexOf: no view object per string (a field is 16 bytes or so)
  let end = at;
  const stop = Math.min(at + width, buf.length);
  while (end < stop && buf[end] !== 0) end++;
  return buf.toString('latin1', at, end);
}
