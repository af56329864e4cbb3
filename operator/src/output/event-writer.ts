// Events go to stdout, one JSON object per line; with a renderer (--pretty)
// the readable form instead. The records are the whole line: no pino level or
// pid is added, so the fields are exactly DESIGN.md's. Logs never go here.
//
// Lines are gathered as text and encoded once per chunk (one UTF-8 encoding
// call per 64 Ki characters, not one per line: per line it was the largest
// single cost of the pipeline), and written to fd 1 in chunks,
// at 64 KiB or at the end of the current turn of the event loop, by
// fs.writeSync on the (non-blocking, once Node has touched stdout) pipe: each
// chunk goes as soon as it is made, while the reader drains the pipe on its
// CPU. What the pipe cannot take yet waits in a queue retried every
// millisecond. Not pino's destination: in string mode it measured the byte
// length of its pending text on every line (more than making the line cost),
// and it retried an EAGAIN after 100 ms, which held a pipe to ~50,000 lines/s;
// nor process.stdout: it writes only between event-loop turns, one pipe's
// worth (64 KiB) per turn while a ring-buffer batch takes tens of ms. A reader
// that stops reading cannot make the agent hold unbounded memory: past
// MAX_PENDING queued bytes lines are dropped, counted (`dropped`) and warned of.
// A kind may have its own serializer (setLineFormat: file events have one that
// gives JSON.stringify's text in a fraction of its time). A caller that makes
// its lines as bytes writes them straight into the current chunk (room, commit:
// the file pipeline); a record written as text after them follows them.
import fs from 'node:fs';
import { log } from '../util/log';

/** Every event record (file, network, alert) has a kind; the rest is the record's. */
export interface EventRecord {
  kind: string;
}

const CHUNK = 64 * 1024;

const formats = new Map<string, (rec: EventRecord) => string>();

/** The JSON line of every record of `kind`, in place of JSON.stringify (which it must equal). */
export function setLineFormat(kind: string, line: (rec: EventRecord) => string): void {
  formats.set(kind, line);
}
export const MAX_PENDING = 64 << 20;

export class EventWriter<R extends EventRecord = EventRecord> {
  /** Lines not encoded yet, each with its newline; they follow the chunk's bytes. */
  private text = '';
  private lines = 0;
  /** Lines written as bytes (room, commit) into the chunk being filled, and their count. */
  private chunk: Buffer | undefined;
  private chunkAt = 0;
  private chunkLines = 0;
  private scheduled = false;
  /** Chunks the pipe has not taken yet, oldest first (the first maybe in part), and their line counts. */
  private readonly queue: { buf: Buffer; lines: number }[] = [];
  private queued = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private warned = 0;
  private readonly drains: (() => void)[] = [];
  written = 0;
  /** Lines not written: the reader of stdout fell MAX_PENDING bytes behind, or closed it. */
  dropped = 0;

  /** `render` turns a record into its one-line human form (--pretty); without it, JSON. */
  constructor(
    private readonly render?: (rec: R) => string,
    private readonly fd = 1,
  ) {}

  write(rec: R): void {
    const line = this.render ? this.render(rec) : (formats.get(rec.kind) ?? JSON.stringify)(rec);
    this.text += `${line}\n`;
    this.lines++;
    if (this.text.length >= CHUNK) this.hand();
    this.schedule();
  }

  /** Whether lines may be written as bytes: not with a renderer (--pretty), which needs the record. */
  get takesBytes(): boolean {
    return this.render === undefined;
  }

  /**
   * A buffer with `max` bytes free from `at` (the position): write whole lines
   * there, then commit(end, lines). Valid until the next call on the writer.
   */
  room(max: number): Buffer {
    // text gathered before these bytes goes first
    if (this.lines || (this.chunk && this.chunk.length - this.chunkAt < max)) this.hand();
    if (!this.chunk) {
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, max));
      this.chunkAt = 0;
    }
    return this.chunk;
  }

  /** Where room()'s buffer is free from. */
  get at(): number {
    return this.chunkAt;
  }

  /** The lines written into room()'s buffer, up to `end`. */
  commit(end: number, lines: number): void {
    this.chunkAt = end;
    this.chunkLines += lines;
    if (end >= CHUNK) this.hand();
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.hand();
      });
    }
  }

  /** The gathered chunk to the queue, then as much of the queue as the pipe takes. */
  private hand(): void {
    if (this.chunkLines) {
      const lines = this.chunkLines;
      if (this.closed || this.queued + this.chunkAt > MAX_PENDING) this.drop(lines);
      else {
        // the queue keeps the chunk; the next lines go into a new one
        this.queue.push({ buf: this.chunk!.subarray(0, this.chunkAt), lines });
        this.queued += this.chunkAt;
        this.chunk = undefined;
      }
      this.chunkAt = 0;
      this.chunkLines = 0;
    }
    if (this.lines) {
      // the UTF-8 length is at least the text's length: a full queue is known without encoding
      if (this.closed || this.queued + this.text.length > MAX_PENDING) this.drop(this.lines);
      else {
        const buf = Buffer.from(this.text, 'utf8');
        this.queue.push({ buf, lines: this.lines });
        this.queued += buf.length;
      }
      this.text = '';
      this.lines = 0;
    }
    this.pump();
  }

  private pump(): void {
    while (this.queue.length) {
      const head = this.queue[0];
      let n: number;
      try {
        n = fs.writeSync(this.fd, head.buf);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break;
        // EPIPE and the like: stdout is gone (e.g. piped into head), nothing left to save
        this.closed = true;
        for (const c of this.queue) this.drop(c.lines);
        this.queue.length = 0;
        this.queued = 0;
        break;
      }
      this.queued -= n;
      if (n < head.buf.length) {
        head.buf = head.buf.subarray(n);
        break;
      }
      this.queue.shift();
      this.written += head.lines;
    }
    if (this.queue.length) {
      // the pipe is full: try again shortly (the pending timer keeps the process alive until it is out)
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        this.pump();
      }, 1);
    } else {
      for (const d of this.drains.splice(0)) d();
    }
  }

  private drop(lines: number): void {
    this.dropped += lines;
    const now = Date.now();
    if (!this.closed && now - this.warned > 5000) {
      this.warned = now;
      log.warn({ module: 'event-writer', dropped: this.dropped, queuedBytes: this.queued }, 'stdout is not read fast enough: events dropped');
    }
  }

  /** Writes what is gathered; what the pipe cannot take yet follows before the process exits. */
  flush(): void {
    this.hand();
  }

  /** Resolves once every line is in the kernel (benchmarks). */
  drained(): Promise<void> {
    this.hand();
    if (!this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.drains.push(resolve));
  }
}
