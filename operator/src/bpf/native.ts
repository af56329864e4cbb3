// BPF helpers over the addon: where the objects are, per-CPU counters, and
// addon errors described with libbpf's own lines.
import path from 'node:path';
import { errorMessage } from '../util/errors';
import { NativeBpfObject, NativeError, native, repoRoot } from '../sys/addon';

export type { MapInfo, NativeAddon, NativeBpfObject, NativeError, StructLayout, InRootStat } from '../sys/addon';
export { native } from '../sys/addon';

/** Where the compiled BPF objects are (override: HIVE_BPF_DIR). */
export function bpfObjectPath(name: string): string {
  return path.join(process.env.HIVE_BPF_DIR ?? path.join(repoRoot, 'build/bpf'), `${name}.bpf.o`);
}

/**
 * Reads a per-CPU array of u64 counters (one slot per name) and sums each
 * over the CPUs: the counters map of every BPF object.
 */
export function readCounters<N extends string>(obj: NativeBpfObject, map: string, slots: Record<N, number>): Record<N, number> {
  const ncpus = native().numPossibleCpus();
  const out = {} as Record<N, number>;
  const key = Buffer.alloc(4);
  for (const [name, idx] of Object.entries(slots) as [N, number][]) {
    key.writeUInt32LE(idx);
    const v = obj.mapLookup(map, key);
    let sum = 0;
    if (v) for (let c = 0; c < ncpus; c++) sum += Number(v.readBigUInt64LE(c * 8));
    out[name] = sum;
  }
  return out;
}

/** An addon error's message plus the last lines libbpf logged with it. */
export function describeNativeError(e: unknown): string {
  const n = e as NativeError;
  const detail = n.libbpfLog ? ` [libbpf: ${n.libbpfLog.split('\n').filter(Boolean).slice(-3).join(' | ')}]` : '';
  return errorMessage(e) + detail;
}
