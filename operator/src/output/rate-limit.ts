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

export class RateLimiter<R extends Countable> {
  private readonly windows = new Map<string, Window<R>>();
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
  offer(key: string, limit: number | undefined, rec: R): void {
    if (!limit) {
      this.emit(rec);
      return;
    }
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
      this.emit(rec);
    } else {
      w.suppressed += rec.count ?? 1;
      w.last = rec;
    }
  }

  private close(key: string, w: Window<R>): void {
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
