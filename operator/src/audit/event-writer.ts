// Events go to stdout, one JSON object per line, through pino's asynchronous
// buffered destination (sonic-boom); --pretty writes the readable form
// instead. The records are the whole line: no pino level or pid is added, so
// the fields are exactly DESIGN.md's. Logs never go here.
import pino from 'pino';
import { FileEventRecord, prettyLine } from './file-event';

export class EventWriter {
  private readonly dest = pino.destination({ fd: 1, sync: false });
  written = 0;

  constructor(private readonly pretty = false) {}

  write(rec: FileEventRecord): void {
    if (this.pretty) this.dest.write(`${prettyLine(rec)}\n`);
    else this.dest.write(`${JSON.stringify(rec)}\n`);
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
