// Events go to stdout, one JSON object per line, through pino's asynchronous
// buffered destination (sonic-boom); --pretty writes the readable form
// instead. The records are the whole line: no pino level or pid is added, so
// the fields are exactly DESIGN.md's. Logs never go here.
import pino from 'pino';
import { FileEventRecord, prettyLine } from './file-event';
import { NetEventRecord, prettyNetLine } from '../netmon/net-event';

export class EventWriter {
  private readonly dest = pino.destination({ fd: 1, sync: false });
  written = 0;

  constructor(private readonly pretty = false) {}

  write(rec: FileEventRecord | NetEventRecord): void {
    if (this.pretty) this.dest.write(`${rec.kind === 'network' ? prettyNetLine(rec) : prettyLine(rec)}\n`);
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
