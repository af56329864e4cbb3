// Tetragon's "alignchecker" for hive.h: the decoder's view of every shared
// struct must be what the compiler laid out in the BPF object (its BTF), and
// every enum constant the decoder uses must have the value the C side has.
import { bpfObjectPath, native } from './native';
import type { EnumDefs, StructDef } from './records';

/** The differences between `structs` and the object's BTF, one line each (empty: in step). */
export function layoutMismatches(object: string, structs: Record<string, StructDef>): string[] {
  const obj = new (native().BpfObject)(bpfObjectPath(object));
  const out: string[] = [];
  try {
    for (const [name, mine] of Object.entries(structs)) {
      const btf = obj.structLayout(name);
      if (!btf) {
        out.push(`struct ${name} is not in ${object}.bpf.o's BTF`);
        continue;
      }
      if (btf.size !== mine.size) out.push(`sizeof(struct ${name}): BTF ${btf.size}, decoder ${mine.size}`);
      const seen = new Set<string>();
      for (const m of btf.members) {
        seen.add(m.name);
        const f = mine.fields[m.name];
        if (!f) out.push(`${name}.${m.name}: in BTF (offset ${m.offset}, size ${m.size}), not in the decoder`);
        else if (f.offset !== m.offset || f.size !== m.size) out.push(`${name}.${m.name}: BTF offset ${m.offset} size ${m.size}, decoder offset ${f.offset} size ${f.size}`);
      }
      for (const f of Object.keys(mine.fields)) if (!seen.has(f)) out.push(`${name}.${f}: in the decoder, not in BTF`);
    }
  } finally {
    obj.close();
  }
  return out;
}

/**
 * The differences between the decoder's enums (C enum name -> its constants
 * by C name) and the object's BTF, one line each (empty: in step). Both ways:
 * a constant the C side added must be named here too.
 */
export function enumMismatches(object: string, enums: EnumDefs): string[] {
  const file = bpfObjectPath(object);
  const out: string[] = [];
  for (const [name, mine] of Object.entries(enums)) {
    const btf = native().btfEnumValues(file, name);
    if (!btf) {
      out.push(`enum ${name} is not in ${object}.bpf.o's BTF`);
      continue;
    }
    for (const [c, v] of Object.entries(btf)) {
      if (!(c in mine)) out.push(`${name}.${c}: in BTF (${v}), not in the decoder`);
      else if (mine[c] !== v) out.push(`${name}.${c}: BTF ${v}, decoder ${mine[c]}`);
    }
    for (const c of Object.keys(mine)) if (!(c in btf)) out.push(`${name}.${c}: in the decoder, not in BTF`);
  }
  return out;
}
