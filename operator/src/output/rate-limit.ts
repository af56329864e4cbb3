// spec.rateLimit: at most N records per second per (trace, process). Records
// past the limit in a one-second window are not printed one by one: when the
// window closes, the last of them is printed once with `count`, the number of
// accesses it stands for, so nothing is lost from the totals. A record may
// arrive with a count already (the kernel folded a storm's repeats into it):
// it is one record against the limit, and held back it adds its whole count.
// The limit stays here, on top of the kernel's folding, because it is a
// trace's and an inode may be watched by several traces with other limits;
// the kernel already caps a storm at about one record per key per interval.

/** A record the limiter can fold: `count` is how many accesses it stands for (absent: one). */
export interface Countable {
  count?: number;
}

interface Window<R> {
  start: number;
  emitted: number;
  suppressed: number;
  last?: R;
}

export class RateLimiter<R extends Countable, K = string> {
  private readonly windows = new Map<K, Window<R>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly emit: (r: R) => void,
    private readonly now: () => number = Date.now,
    flushEveryMs = 250,
  ) {
    this.timer = setInterval(() => this.flush(false), flushEveryMs);
    this.timer.unref();
  }

  /** Passes `rec` on, or holds it back when `key` is over `limit` events this second. */
  offer(key: K, limit: number | undefined, rec: R): void {
    if (!limit || this.admit(key, limit, rec.count ?? 1)) this.emit(rec);
    else this.held(key, rec);
  }

  /**
   * Whether a record of `key` (standing for `count` accesses) goes out now:
   * true, it is counted against the limit and the caller writes it; false, it
   * is held back, its count added to the window's, and the caller hands the
   * record to held() (a caller that writes lines as bytes builds a record only then).
   */
  admit(key: K, limit: number, count: number): boolean {
    const t = this.now();
    let w = this.windows.get(key);
    if (w && t - w.start >= 1000) {
      this.close(key, w);
      w = undefined;
    }
    if (!w) {
      w = { start: t, emitted: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (w.emitted < limit) {
      w.emitted++;
      return true;
    }
    w.suppressed += count;
    return false;
  }

  /** The record admit() held back last for `key`: the window's summary is written as it. */
  held(key: K, rec: R): void {
    const w = this.windows.get(key);
    if (w) w.last = rec;
  }

  private close(key: K, w: Window<R>): void {
    this.windows.delete(key);
    if (w.suppressed && w.last) this.emit({ ...w.last, count: w.suppressed });
  }

  /** Closes the windows that have ended (all of them with `all`). */
  flush(all = true): void {
    const t = this.now();
    for (const [k, w] of this.windows) if (all || t - w.start >= 1000) this.close(k, w);
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush(true);
  }
}
