// Kernel timestamps -> wall-clock time for every event record.

/** Monotonic kernel time -> wall clock. bpf_ktime_get_ns and hrtime share CLOCK_MONOTONIC. */
export class Clock {
  private readonly wallMs = Date.now();
  private readonly monoNs = Number(process.hrtime.bigint());
  toIso(monoNs: number): string {
    return new Date(this.wallMs + (monoNs - this.monoNs) / 1e6).toISOString();
  }
}
