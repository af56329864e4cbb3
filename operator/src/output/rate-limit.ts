// spec.rateLimit: at most N records per second per (trace, process, verdict).
// Records past the limit in a one-second window are not printed one by one:
// they are held per group (the pipeline's group is the file and access: the
// watch and its mask), and when the window closes each group is printed once,
// as its last record with `count`, the number of accesses it stands for, and
// the first one's time. So a limited process may print more than N lines in a
// second, but never fewer than one per file it touched: a read of a secret
// cannot hide among reads of another file (SECURITY-REVIEW M9), and nothing
// is lost from the totals. A record may arrive with a count already (the
// kernel folded a storm's repeats into it): it is one record against the
// limit, and held back it adds its whole count. The limit stays here, on top
// of the kernel's folding, because it is a trace's and an inode may be watched
// by several traces with other limits; the kernel already caps a storm at
// about one record per key per interval.

/** A record the limiter can fold: `count` is how many accesses it stands for (absent: one). */
export interface Countable {
  count?: number;
}

/** What a group held back in a window: its first and last records and their accesses. */
interface Held<R> {
  first: R;
  last: R;
  count: number;
}

interface Window<R> {
  start: number;
  emitted: number;
  held: Map<unknown, Held<R>>;
}

/** The summary of a group: by default its last record with the count. */
export type Fold<R> = (last: R, count: number, first: R) => R;

export class RateLimiter<R extends Countable, K = string> {
  private readonly windows = new Map<K, Window<R>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly emit: (r: R) => void,
    private readonly now: () => number = Date.now,
    flushEveryMs = 250,
    private readonly fold: Fold<R> = (last, count) => ({ ...last, count }),
  ) {
    this.timer = setInterval(() => this.flush(false), flushEveryMs);
    this.timer.unref();
  }

  /** Passes `rec` on, or holds it back (in `group`) when `key` is over `limit` records this second. */
  offer(key: K, limit: number | undefined, rec: R, group?: unknown): void {
    if (!limit || this.admit(key, limit)) this.emit(rec);
    else this.held(key, rec, rec.count ?? 1, group);
  }

  /**
   * Whether a record of `key` goes out now: true, it is counted against the
   * limit and the caller writes it; false, the caller hands it to held() (a
   * caller that writes lines as bytes builds a record only then).
   */
  admit(key: K, limit: number): boolean {
    const t = this.now();
    let w = this.windows.get(key);
    if (w && t - w.start >= 1000) {
      this.close(key, w);
      w = undefined;
    }
    if (!w) {
      w = { start: t, emitted: 0, held: new Map() };
      this.windows.set(key, w);
    }
    if (w.emitted < limit) {
      w.emitted++;
      return true;
    }
    return false;
  }

  /** A record admit() refused, standing for `count` accesses, held in its `group` until the window closes. */
  held(key: K, rec: R, count: number, group?: unknown): void {
    const w = this.windows.get(key);
    if (!w) return;
    const h = w.held.get(group);
    if (h) {
      h.last = rec;
      h.count += count;
    } else w.held.set(group, { first: rec, last: rec, count });
  }

  private close(key: K, w: Window<R>): void {
    this.windows.delete(key);
    for (const h of w.held.values()) this.emit(this.fold(h.last, h.count, h.first));
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
