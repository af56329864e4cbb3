// The benchmarks' generator lives in its own object (bench.bpf.o) but must
// feed the production consumer: its events arrive through the monitor's own
// ring buffer and poller, decoded, and its counts and drops are the monitor's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { RawFileEvent, SOURCE } from '../fileaccess/layout';
import { kernelSkip, testMode, waitFor } from '../testing/kernel';
import { log } from '../util/log';
import { BenchGenerator } from './generator';

const skip = kernelSkip();
const quiet = log.child({ module: 'generator-test' });
quiet.level = 'warn';

describe("the bench generator writes into a monitor's own maps", { skip, concurrency: 1 }, () => {
  test("its events reach the monitor's consumer, decoded, and count in the monitor's counters", async () => {
    const { monitor } = FileAccessMonitor.open({ mode: testMode(), ringBufferBytes: 1 << 16, log: quiet });
    const gen = BenchGenerator.open(monitor);
    try {
      const before = monitor.counters().emitted;
      const got: RawFileEvent[] = [];
      monitor.onEvents((evs) => got.push(...evs), 5);
      gen.generate(100);
      await waitFor(() => got.filter((e) => SOURCE[e.source] === 'bench').length === 100, 3000, '100 bench events');
      const bench = got.filter((e) => SOURCE[e.source] === 'bench');
      assert.deepEqual(bench.map((e) => e.pid), Array.from({ length: 100 }, (_, i) => i));
      assert.equal(bench[0].comm, 'b');
      assert.equal(monitor.counters().emitted - before, 100 + (got.length - bench.length));
      const r = await gen.run(10, 100, 200);
      assert.ok(r.calls > 0 && r.elapsedNs > 0);
      await waitFor(() => got.filter((e) => SOURCE[e.source] === 'bench').length === 100 + 10 * r.calls, 3000, 'the paced runs');
    } finally {
      gen.close();
      monitor.close();
    }
  });

  test("with nothing consuming, a full ring's drops are the monitor's", () => {
    const { monitor } = FileAccessMonitor.open({ mode: testMode(), ringBufferBytes: 4096, log: quiet });
    const gen = BenchGenerator.open(monitor);
    try {
      gen.generate(1000); // 4 KiB holds 46 records of 88 bytes
      const c = monitor.counters();
      assert.equal(c.emitted + c.dropped, 1000, 'nothing is watched: every event is the generator\'s');
      assert.ok(c.emitted >= 1 && c.emitted <= 4096 / 88, `emitted ${c.emitted}`);
    } finally {
      gen.close();
      monitor.close();
    }
  });

  test('against a closed monitor, or once closed itself, it says so', () => {
    const { monitor } = FileAccessMonitor.open({ mode: testMode(), ringBufferBytes: 1 << 16, log: quiet });
    const gen = BenchGenerator.open(monitor);
    monitor.close();
    gen.generate(1); // the ring outlives the monitor: nobody reads it, nothing breaks
    gen.close();
    gen.close();
    assert.throws(() => gen.generate(1), /^HiveError: generate: the bench generator is closed$/);
    assert.throws(() => BenchGenerator.open(monitor), /^HiveError: bench generator: shareMap: the file-access monitor is closed$/);
  });
});
