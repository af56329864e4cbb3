// A work queue of keys, in the manner of client-go's: a key is queued at most
// once (adds coalesce), runs at most once at a time (an add while it runs makes
// it run once more after), and a failed run is retried after a per-key
// exponential backoff (base, 2x base, ... up to max; a success resets it).
// Different keys run concurrently, up to `workers` at a time.
export interface WorkQueueOptions<K, C extends string> {
  /** The key's identity (adds of equal ids coalesce). */
  id: (key: K) => string;
  /** One run; `causes` are the reasons the key was queued, first first. */
  work: (key: K, causes: C[]) => Promise<void>;
  /** A failed run, and when it is retried. */
  onError?: (key: K, err: unknown, retryInMs: number, failures: number) => void;
  /** The cause a retry is queued with. */
  retryCause: C;
  workers?: number;
  /** Queue adds but run nothing until resume() (e.g. until the caches it reads are synced). */
  paused?: boolean;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

interface Entry<K, C> {
  key: K;
  causes: C[];
}

export class WorkQueue<K, C extends string> {
  /** Queued, not running: insertion order is run order. */
  private readonly pending = new Map<string, Entry<K, C>>();
  /** Running, with what was added meanwhile (runs again after). */
  private readonly running = new Map<string, Entry<K, C> | null>();
  private readonly failures = new Map<string, number>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private paused: boolean;
  private readonly workers: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly o: WorkQueueOptions<K, C>) {
    this.workers = o.workers ?? 1;
    this.paused = o.paused ?? false;
    this.baseDelayMs = o.baseDelayMs ?? 200;
    this.maxDelayMs = o.maxDelayMs ?? 30_000;
  }

  add(key: K, cause: C): void {
    if (this.stopped) return;
    const id = this.o.id(key);
    if (this.running.has(id)) {
      const again = this.running.get(id) ?? { key, causes: [] };
      merge(again, key, cause);
      this.running.set(id, again);
      return;
    }
    const e = this.pending.get(id) ?? { key, causes: [] };
    merge(e, key, cause);
    this.pending.set(id, e);
    this.pump();
  }

  /** Starts running what was queued while paused. */
  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Keys queued or running (retries waiting on their backoff are not counted). */
  get size(): number {
    return this.pending.size + this.running.size;
  }

  /** Consecutive failures of a key (0 after a success). */
  failuresOf(key: K): number {
    return this.failures.get(this.o.id(key)) ?? 0;
  }

  private pump(): void {
    while (!this.stopped && !this.paused && this.running.size < this.workers && this.pending.size) {
      const [id, e] = this.pending.entries().next().value as [string, Entry<K, C>];
      this.pending.delete(id);
      this.running.set(id, null);
      const p = this.run(id, e);
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }

  private async run(id: string, e: Entry<K, C>): Promise<void> {
    try {
      await this.o.work(e.key, e.causes);
      this.failures.delete(id);
      clearTimeout(this.retries.get(id));
      this.retries.delete(id);
    } catch (err) {
      const n = (this.failures.get(id) ?? 0) + 1;
      this.failures.set(id, n);
      const delay = Math.min(this.baseDelayMs * 2 ** (n - 1), this.maxDelayMs);
      clearTimeout(this.retries.get(id));
      if (!this.stopped) {
        const t = setTimeout(() => {
          this.retries.delete(id);
          this.add(e.key, this.o.retryCause);
        }, delay);
        t.unref();
        this.retries.set(id, t);
      }
      this.o.onError?.(e.key, err, delay, n);
    } finally {
      const again = this.running.get(id);
      this.running.delete(id);
      if (again && !this.stopped) this.pending.set(id, again);
      this.pump();
    }
  }

  /** Resolves when nothing is queued or running (for tests and shutdown). */
  async drained(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Drops what is queued and waiting for retry; waits for the runs in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pending.clear();
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    await this.drained();
  }
}

function merge<K, C>(e: Entry<K, C>, key: K, cause: C): void {
  e.key = key;
  if (!e.causes.includes(cause)) e.causes.push(cause);
}
