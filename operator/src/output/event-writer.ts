// Events go to stdout, one JSON object per line, through pino's asynchronous
// buffered destination (sonic-boom); with a renderer (--pretty) the readable
// form instead. The records are the whole line: no pino level or pid is added,
// so the fields are exactly DESIGN.md's. Logs never go here.
import pino from 'pino';

/** Every event record (file, network, alert) has a kind; the rest is the record's. */
export interface EventRecord {
  kind: string;
}

export class EventWriter<R extends EventRecord = EventRecord> {
  private readonly dest = pino.destination({ fd: 1, sync: false });
  written = 0;

  /** `render` turns a record into its one-line human form (--pretty); without it, JSON. */
  constructor(private readonly render?: (rec: R) => string) {}

  write(rec: R): void {
    this.dest.write(`${this.render ? this.render(rec) : JSON.stringify(rec)}\n`);
    this.written++;
  }

  flush(): void {
    try {
      this.dest.flushSync();
    } catch {
      // stdout already closed (e.g. piped into head): nothing left to save
    }
  }
}
