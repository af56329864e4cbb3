// An informer that restarts itself: when its watch ends with an error (the API
// server went away, a 410 Gone), it starts again after a backoff, doubling up
// to 5 s; a successful (re)connect resets the backoff.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { Backoff } from '../util/backoff';
import { Logger } from '../util/log';

export interface Handlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

export class SelfRestartingInformer<T extends k8s.KubernetesObject> {
  private stopped = false;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 5000 });
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly informer: k8s.Informer<T> & k8s.ObjectCache<T>,
    private readonly what: string,
    private readonly log: Logger,
    handlers: Handlers<T>,
    onError: () => void = () => {},
  ) {
    informer.on('add', (o) => handlers.upsert(o));
    informer.on('update', (o) => handlers.upsert(o));
    informer.on('delete', (o) => handlers.remove(o));
    informer.on('connect', () => {
      this.backoff.reset();
      this.log.debug({ informer: what }, 'watch connected');
    });
    informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      onError();
      const retryInMs = this.backoff.next();
      this.log.warn({ informer: what, err: err instanceof Error ? err.message : String(err), retryInMs }, 'watch ended; restarting');
      this.timer = setTimeout(() => void this.start(), retryInMs);
    });
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.informer.start();
    } catch (err) {
      // start() rejects when the first list fails; the error handler above retries
      this.log.warn({ informer: this.what, err: (err as Error).message }, 'informer start failed');
    }
  }

  /** The cache: every object, or a namespace's. */
  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.informer.stop();
  }
}
