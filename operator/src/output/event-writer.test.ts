import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { EventWriter } from './event-writer';

test('every record is one JSON line, in order, across chunks, with non-ASCII text intact', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-writer-'));
  const file = path.join(dir, 'out');
  const fd = fs.openSync(file, 'w');
  try {
    const w = new EventWriter(undefined, fd);
    // enough lines for many 64 Ki-character chunks; some with 2-, 3- and 4-byte UTF-8 and escapes
    const recs = Array.from({ length: 20_000 }, (_, i) => ({ kind: 'test', i, path: i % 7 === 0 ? `/data/é✓😀"\\${i}` : `/data/${i}` }));
    for (const r of recs) w.write(r);
    await w.drained();
    assert.equal(w.written, recs.length);
    assert.equal(w.dropped, 0);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.pop(), '', 'the output ends with a newline');
    assert.deepEqual(lines, recs.map((r) => JSON.stringify(r)));
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a closed reader: lines are dropped and counted, never thrown', async () => {
  const [r, wfd] = pipePair();
  fs.closeSync(r);
  const w = new EventWriter(undefined, wfd);
  try {
    for (let i = 0; i < 10; i++) w.write({ kind: 'test', i } as { kind: string });
    await w.drained();
    assert.equal(w.written, 0);
    assert.equal(w.dropped, 10);
  } finally {
    fs.closeSync(wfd);
  }
});

/** A pipe's two ends (read, write) from a FIFO in a temporary directory. */
function pipePair(): [number, number] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-writer-'));
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const r = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.rmSync(dir, { recursive: true, force: true });
  return [r, w];
}
