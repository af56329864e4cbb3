// Kernel timestamps -> wall-clock time for every event record.

/** Monotonic kernel time -> wall clock. bpf_ktime_get_ns and hrtime share CLOCK_MONOTONIC. */
export class Clock {
  private readonly wall0 = Date.now();
  private readonly mono0 = Number(process.hrtime.bigint());
  // the ISO text up to the seconds' dot, for the last second seen: at node
  // rates a Date and its toISOString per event were 7 % of the pipeline
  private second = NaN;
  private prefix = '';
  // and the whole text of the last millisecond: a burst shares it
  private ms = NaN;
  private iso = '';

  /** The wall-clock millisecond of a monotonic timestamp. */
  wallMs(monoNs: number): number {
    return Math.floor(this.wall0 + (monoNs - this.mono0) / 1e6);
  }

  /** The ISO text of a wall-clock millisecond ("2026-12-03T08:05:16.042Z"). */
  isoOfMs(ms: number): string {
    if (ms === this.ms) return this.iso;
    const s = Math.floor(ms / 1000);
    if (s !== this.second) {
      const iso = new Date(s * 1000).toISOString();
      this.prefix = iso.slice(0, iso.length - 4); // "...T08:05:16." of "...T08:05:16.000Z"
      this.second = s;
    }
    const r = ms - s * 1000;
    this.ms = ms;
    return (this.iso = `${this.prefix}${r < 10 ? '00' : r < 100 ? '0' : ''}${r}Z`);
  }

  toIso(monoNs: number): string {
    return this.isoOfMs(this.wallMs(monoNs));
  }
}
