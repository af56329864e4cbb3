// Long work on the one JavaScript thread, made to give the event loop a turn
// every so often: a reconcile of every trace whose awaits all resolve at once
// (container pids kept, recent-pids.ts) would otherwise run for seconds in
// microtasks, and meanwhile no ring-buffer batch, metrics scrape or informer
// event is handled (at node scale the metrics server then reset connections).

/** Resolves after the event loop's next turn when `sliceMs` passed since the last one it gave; at once otherwise. */
export class Yielder {
  private last = performance.now();

  constructor(private readonly sliceMs = 10) {}

  maybe(): Promise<void> | undefined {
    if (performance.now() - this.last < this.sliceMs) return undefined;
    return new Promise((resolve) =>
      setImmediate(() => {
        this.last = performance.now();
        resolve();
      }),
    );
  }
}
