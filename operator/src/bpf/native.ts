// BPF helpers over the addon: where the objects are, per-CPU counters, a
// ring buffer polled with restarts, and addon errors described with libbpf's
// own lines.
import path from 'node:path';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/log';
import { NativeBpfObject, NativeError, native, repoRoot } from '../sys/addon';

export type { NativeAddon, NativeBpfObject, NativeError, StructLayout, InRootStat } from '../sys/addon';
export { addonPath, native } from '../sys/addon';

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

/** How long a ring buffer whose polling failed waits before polling again. */
export const POLL_RESTART_MS = 1000;

/**
 * A ring buffer polled on the addon's thread. A poll failure (the thread
 * ends; EINTR is none) is logged at error level, counted in `errors`, and
 * polling starts again after `restartMs`, so events do not just stop.
 */
export class RingPoll {
  errors = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly obj: NativeBpfObject,
    private readonly map: string,
    private readonly onBatch: (batch: Buffer, count: number) => void,
    private readonly log: Logger,
    private readonly pollTimeoutMs: number,
    private readonly restartMs = POLL_RESTART_MS,
  ) {
    this.start(); // a refusal here (already polling, closed) is the caller's error
  }

  private start(): void {
    this.obj.startRingbuf(this.map, this.onBatch, (err) => this.failed(err), this.pollTimeoutMs);
  }

  private failed(err: unknown): void {
    this.errors++;
    this.log.error({ map: this.map, err: describeNativeError(err), restartInMs: this.restartMs }, 'ring buffer polling failed');
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      try {
        this.start();
      } catch (e) {
        this.failed(e);
      }
    }, this.restartMs);
    this.timer.unref();
  }

  /** Stops polling (and any pending restart); again is a no-op. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.obj.stopRingbuf();
  }
}
