// The benchmarks' in-kernel load generator, kept out of the shipped object:
// bpf/bench.bpf.c's hive_bench_generate, opened against a running file-access
// monitor so that it writes real struct hive_file_event records into that
// monitor's own ring buffer and counters. What the benchmarks measure is then
// the production consumer (poll thread, batches, decoder), unchanged.
import { NativeBpfObject, bpfObjectPath, describeNativeError as describe, native } from '../bpf/native';
import type { StructDef } from '../bpf/records';
import type { FileAccessMonitor } from '../fileaccess/monitor';
import { HiveError } from '../util/errors';
import { checkInt } from '../util/int';

export const BENCH_OBJECT = 'bench';
export const GENERATOR_PROGRAM = 'hive_bench_generate';

/** struct hive_bench_args (checked against bench.bpf.o's BTF by generator.test.ts). */
export const BENCH_ARGS = {
  size: 8,
  fields: { count: { offset: 0, size: 4 }, pad: { offset: 4, size: 4 } },
} as const satisfies StructDef;

export function encodeBenchArgs(count: number): Buffer {
  checkInt('events per run', count, 0, 0xffffffff);
  const b = Buffer.alloc(BENCH_ARGS.size);
  b.writeUInt32LE(count, BENCH_ARGS.fields.count.offset);
  return b;
}

/** Opens bench.bpf.o, or says how to build it. */
export function openBenchObject(): NativeBpfObject {
  try {
    return new (native().BpfObject)(bpfObjectPath(BENCH_OBJECT));
  } catch (e) {
    throw new HiveError(`cannot open the benchmarks' BPF object: ${describe(e)} (run 'make bench')`);
  }
}

export class BenchGenerator {
  private obj: NativeBpfObject | null;

  private constructor(obj: NativeBpfObject) {
    this.obj = obj;
  }

  /** The generator, writing into `monitor`'s ring buffer and counters. */
  static open(monitor: FileAccessMonitor): BenchGenerator {
    const obj = openBenchObject();
    try {
      obj.setAutoload(GENERATOR_PROGRAM, true);
      monitor.shareMap('events', obj);
      monitor.shareMap('counters', obj);
      obj.load();
    } catch (e) {
      obj.close();
      throw new HiveError(`bench generator: ${describe(e)}`);
    }
    return new BenchGenerator(obj);
  }

  private live(op: string): NativeBpfObject {
    if (!this.obj) throw new HiveError(`${op}: the bench generator is closed`);
    return this.obj;
  }

  /** Writes `count` events, synchronously (one BPF_PROG_TEST_RUN). */
  generate(count: number): void {
    this.live('generate').testRun(GENERATOR_PROGRAM, encodeBenchArgs(count));
  }

  /** `perCall` events per run, callsPerSec runs a second for durationMs, on a native worker thread. */
  run(perCall: number, callsPerSec: number, durationMs: number): Promise<{ calls: number; elapsedNs: number }> {
    return this.live('run').runLoad(GENERATOR_PROGRAM, encodeBenchArgs(perCall), callsPerSec, durationMs);
  }

  close(): void {
    this.obj?.close();
    this.obj = null;
  }
}
