// Exponential backoff with a cap: each retry waits twice as long as the last,
// up to `maxMs`; a success resets it. Shared by every retry loop (informers,
// the containerd event stream) so they back off alike.
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Growth per retry (default 2). */
  factor?: number;
}

export class Backoff {
  private current: number;
  private readonly factor: number;

  constructor(private readonly opts: BackoffOptions) {
    if (!(opts.initialMs > 0) || !(opts.maxMs >= opts.initialMs)) {
      throw new RangeError(`backoff: need 0 < initialMs <= maxMs, got ${opts.initialMs} and ${opts.maxMs}`);
    }
    this.factor = opts.factor ?? 2;
    if (!(this.factor >= 1)) throw new RangeError(`backoff: factor must be at least 1, got ${this.factor}`);
    this.current = opts.initialMs;
  }

  /** The delay the next retry would wait, without using it up. */
  peek(): number {
    return this.current;
  }

  /** The delay of this retry; the one after is longer, up to the cap. */
  next(): number {
    const d = this.current;
    this.current = Math.min(this.current * this.factor, this.opts.maxMs);
    return d;
  }

  /** After a success: the next retry waits the initial delay again. */
  reset(): void {
    this.current = this.opts.initialMs;
  }
}
