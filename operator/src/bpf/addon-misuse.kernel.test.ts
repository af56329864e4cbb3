// The addon's promise: a bug in the caller is a JS error naming the
// operation, never a crash and never a kernel read past a Buffer. Real BPF
// objects in the running kernel: wrong buffer lengths and argument types, a
// closed object, double close and stop, a map reused from an object that
// cannot give it, a poller that fails for real (its
// epoll descriptor closed under it), signals at the poll thread, libbpf lines
// that must not outlive their operation, and two Node environments (worker
// threads) that must not touch each other's objects.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { NativeBpfObject, NativeError, POLL_RESTART_MS, addonPath, bpfObjectPath, native, readCounters } from './native';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { COUNTER_MAX, WATCH } from '../fileaccess/layout';
import { BenchGenerator, GENERATOR_PROGRAM, encodeBenchArgs } from '../bench/generator';
import { kernelSkip, sleep, testMode, waitFor } from '../testing/kernel';

const skip = kernelSkip();
const EINVAL = 22;
const EBADF = 9;
const EEXIST = 17;
const ENOENT = 2;

/** The benchmarks' object with its event generator loaded, on its own maps: events on demand, nothing attached. */
function generatorObject(): NativeBpfObject {
  const o = new (native().BpfObject)(bpfObjectPath('bench'));
  o.setAutoload(GENERATOR_PROGRAM, true);
  o.setMaxEntries('events', 1 << 16);
  o.load();
  return o;
}

/** The file-access object loaded with no program: its maps, nothing attached. */
function mapsObject(): NativeBpfObject {
  const o = new (native().BpfObject)(bpfObjectPath('fileaccess'));
  o.setMaxEntries('watched', 64);
  o.setMaxEntries('events', 1 << 16);
  o.load();
  return o;
}

const generatorArgs = encodeBenchArgs;

/** Writes n events into the object's ring buffer, synchronously. */
function generate(o: NativeBpfObject, n: number): void {
  o.testRun(GENERATOR_PROGRAM, generatorArgs(n));
}

/** Asserts fn throws an addon error naming `op`, with message "<op>: <message>" (or matching it). */
function throwsOp(fn: () => unknown, op: string, message: string | RegExp, errno?: number): void {
  assert.throws(fn, (e: NativeError) => {
    assert.equal(e.op, op);
    if (typeof message === 'string') assert.equal(e.message, `${op}: ${message}`);
    else assert.match(e.message, message);
    if (errno !== undefined) assert.equal(e.errno, errno);
    return true;
  });
}

const noPollError = (e: NativeError) => assert.fail(`unexpected poll error: ${e.message}`);

/** The process's descriptors whose link is `what` (e.g. anon_inode:[eventpoll]). */
function fdsOf(what: (link: string) => boolean): Set<number> {
  const out = new Set<number>();
  for (const f of fs.readdirSync('/proc/self/fd')) {
    try {
      if (what(fs.readlinkSync(`/proc/self/fd/${f}`))) out.add(Number(f));
    } catch {
      // closed since the listing (readdir's own descriptor)
    }
  }
  return out;
}

/**
 * Breaks a poller for real: `start` starts it; its epoll descriptor (the one
 * epoll descriptor that start opened) is closed under it, as a stray close()
 * elsewhere in the process would, and /dev/null put on that number, so the
 * thread's next epoll_wait fails with EINVAL. The poller's own cleanup closes
 * that number later, so the test never closes it itself.
 */
function startAndBreak(start: () => void): void {
  const isEpoll = (l: string) => l === 'anon_inode:[eventpoll]';
  const before = fdsOf(isEpoll);
  start();
  const opened = [...fdsOf(isEpoll)].filter((fd) => !before.has(fd));
  assert.equal(opened.length, 1, 'startRingbuf opens one epoll descriptor');
  const target = opened[0];
  fs.closeSync(target);
  // open() takes the lowest free number: fill the holes below target, then free them again
  const holes: number[] = [];
  for (;;) {
    const fd = fs.openSync('/dev/null', 'r');
    if (fd === target) break;
    assert.ok(fd < target, `descriptor ${target} was taken by someone else`);
    holes.push(fd);
  }
  for (const fd of holes) fs.closeSync(fd);
}

/** Thread ids of this process's ring-buffer poll threads (the addon names them). */
function pollThreads(): number[] {
  return fs
    .readdirSync('/proc/self/task')
    .filter((t) => {
      try {
        return fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'hive-ringbuf';
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('the addon under misuse', { skip, concurrency: 1 }, () => {
  test('wrong buffer lengths are JS errors naming the operation and map; nothing reaches the map', () => {
    const o = mapsObject();
    try {
      const ks = o.structLayout('hive_inode_key')!.size;
      const vs = o.structLayout('hive_watch')!.size;
      const ncpus = native().numPossibleCpus();
      const batch = 'mapUpdateBatch(watched)';
      throwsOp(() => o.mapUpdateBatch('watched', Buffer.alloc(2 * ks), Buffer.alloc(3 * vs), 3), batch, `keys buffer is ${2 * ks} bytes, 3 keys need ${3 * ks}`, EINVAL);
      throwsOp(() => o.mapUpdateBatch('watched', Buffer.alloc(3 * ks), Buffer.alloc(vs), 3), batch, `values buffer is ${vs} bytes, 3 values need ${3 * vs}`, EINVAL);
      throwsOp(() => o.mapUpdateBatch('watched', Buffer.alloc(ks), Buffer.alloc(vs), 100_000), batch, `keys buffer is ${ks} bytes, 100000 keys need ${100_000 * ks}`);
      throwsOp(() => o.mapUpdateBatch('watched', Buffer.alloc(4 * ks), Buffer.alloc(4 * vs), 3), batch, `keys buffer is ${4 * ks} bytes, 3 keys need ${3 * ks}`);
      throwsOp(() => o.mapUpdate('watched', Buffer.alloc(ks - 1), Buffer.alloc(vs), 0), 'mapUpdate(watched)', `key is ${ks - 1} bytes, the map's keys are ${ks} bytes`, EINVAL);
      throwsOp(() => o.mapUpdate('watched', Buffer.alloc(ks), Buffer.alloc(vs - 1), 0), 'mapUpdate(watched)', `value is ${vs - 1} bytes, the map's values are ${vs} bytes`);
      // per-CPU maps take one value per possible CPU, each padded to 8 bytes
      throwsOp(() => o.mapUpdate('counters', Buffer.alloc(4), Buffer.alloc(8 * ncpus - 4), 0), 'mapUpdate(counters)', `value is ${8 * ncpus - 4} bytes, the map's values are ${8 * ncpus} bytes`);
      throwsOp(() => o.mapLookup('watched', Buffer.alloc(1)), 'mapLookup(watched)', `key is 1 byte, the map's keys are ${ks} bytes`);
      throwsOp(() => o.mapDelete('watched', Buffer.alloc(ks + 8)), 'mapDelete(watched)', `key is ${ks + 8} bytes, the map's keys are ${ks} bytes`);
      // types and ranges: an error, not a value wrapped into another
      throwsOp(() => o.mapUpdateBatch('watched', Buffer.alloc(0), Buffer.alloc(0), -1), batch, 'argument 4 (count) must be an integer from 0 to 4294967295, got -1', EINVAL);
      throwsOp(() => o.mapUpdateBatch('watched', Buffer.alloc(0), Buffer.alloc(0), 1.5), batch, 'argument 4 (count) must be an integer from 0 to 4294967295, got 1.5');
      throwsOp(() => o.mapUpdate('watched', 'key' as unknown as Buffer, Buffer.alloc(vs), 0), 'mapUpdate(watched)', 'argument 2 (key) must be a Buffer, got a string');
      throwsOp(() => o.mapLookup('nope', Buffer.alloc(4)), 'mapLookup(nope)', /^mapLookup\(nope\): no map named nope in .*fileaccess\.bpf\.o$/);
      throwsOp(() => o.tcAttach('hive_tp_sys_exit', -1, true), 'tcAttach(hive_tp_sys_exit)', 'argument 2 (ifindex) must be an integer from 1 to 2147483647, got -1');
      throwsOp(() => new (native().BpfObject)(42 as unknown as string), 'new BpfObject', 'argument 1 (object path) must be a string, got a number');
      // no misuse wrote anything, and the object still works
      assert.equal(o.mapCount('watched'), 0);
      const keys = Buffer.alloc(3 * ks);
      for (let i = 0; i < 3; i++) keys.writeBigUInt64LE(BigInt(i + 1), i * ks);
      assert.equal(o.mapUpdateBatch('watched', keys, Buffer.alloc(3 * vs, 1), 3), 3);
      assert.equal(o.mapCount('watched'), 3);
      assert.equal(o.mapUpdateBatch('watched', Buffer.alloc(0), Buffer.alloc(0), 0), 0);
      assert.equal(o.mapLookup('counters', Buffer.alloc(4))?.length, 8 * ncpus);
    } finally {
      o.close();
    }
  });

  test('a read-only variable takes exactly its size', () => {
    const o = new (native().BpfObject)(bpfObjectPath('fileaccess'));
    try {
      throwsOp(() => o.setRodata('inode_arg', Buffer.alloc(2)), 'setRodata(inode_arg)', 'value is 2 bytes, the variable has 4 bytes', EINVAL);
      throwsOp(() => o.setRodata('no_such_var', Buffer.alloc(4)), 'setRodata(no_such_var)', 'no such read-only variable');
      o.setRodata('inode_arg', Buffer.alloc(4));
    } finally {
      o.close();
    }
  });

  test("a map reused from another object: only a loaded BpfObject's map of the same type and sizes; then both objects use one map", async () => {
    const fa = mapsObject();
    const unloaded = new (native().BpfObject)(bpfObjectPath('fileaccess'));
    const closed = mapsObject();
    closed.close();
    const gen = new (native().BpfObject)(bpfObjectPath('bench'));
    try {
      gen.setAutoload(GENERATOR_PROGRAM, true);
      const op = 'reuseMap(events)';
      throwsOp(() => gen.reuseMap('events', {} as NativeBpfObject, 'events'), op, 'argument 2 (other object) must be a BpfObject, got an object', EINVAL);
      throwsOp(() => gen.reuseMap('events', undefined as unknown as NativeBpfObject, 'events'), op, 'argument 2 (other object) must be a BpfObject, got undefined');
      throwsOp(() => gen.reuseMap('events', fa, 7 as unknown as string), op, 'argument 3 (other map name) must be a string, got a number');
      throwsOp(() => gen.reuseMap('events', gen, 'events'), op, 'an object cannot reuse its own map', EINVAL);
      throwsOp(() => gen.reuseMap('events', closed, 'events'), op, 'the other object is closed', EBADF);
      throwsOp(() => gen.reuseMap('events', unloaded, 'events'), op, 'the other object is not loaded: its maps exist from load() on', EINVAL);
      throwsOp(() => gen.reuseMap('events', fa, 'nope'), op, /^reuseMap\(events\): no map named nope in .*fileaccess\.bpf\.o$/, ENOENT);
      throwsOp(() => gen.reuseMap('nope', fa, 'events'), 'reuseMap(nope)', /^reuseMap\(nope\): no map named nope in .*bench\.bpf\.o$/, ENOENT);
      throwsOp(() => gen.reuseMap('events', fa, 'counters'), op, 'this one is a ringbuf map, key 0 bytes, value 0 bytes, counters a percpu_array map, key 4 bytes, value 8 bytes', EINVAL);
      throwsOp(() => gen.reuseMap('counters', fa, 'watched'), 'reuseMap(counters)', `this one is a percpu_array map, key 4 bytes, value 8 bytes, watched a hash map, key 16 bytes, value ${WATCH.size} bytes`);
      gen.reuseMap('events', fa, 'events');
      gen.reuseMap('counters', fa, 'counters');
      gen.load();
      throwsOp(() => gen.reuseMap('events', fa, 'events'), 'reuseMap', 'not allowed after load()', EINVAL);
      // the generator's events reach the other object's ring, its counts the other's counters
      let got = 0;
      fa.startRingbuf('events', (_b, n) => (got += n), noPollError, 5);
      generate(gen, 6);
      await waitFor(() => got === 6, 3000, '6 events in the other object\'s ring');
      assert.equal(readCounters(fa, 'counters', { emitted: 2 }).emitted, 6);
      // the map outlives the object it came from
      fa.close();
      generate(gen, 2);
      assert.equal(readCounters(gen, 'counters', { emitted: 2 }).emitted, 8);
    } finally {
      gen.close();
      unloaded.close();
      fa.close();
    }
  });

  test('every method of a closed object throws "BpfObject is closed"; close and stopRingbuf again are no-ops', () => {
    const o = generatorObject();
    o.startRingbuf('events', () => {}, noPollError, 5);
    o.close();
    o.close();
    o.stopRingbuf();
    o.stopRingbuf();
    const b = Buffer.alloc(16);
    // Typed as every method but the two release ones: a new method fails to compile until listed.
    const calls: Record<Exclude<keyof NativeBpfObject, 'close' | 'stopRingbuf'>, () => unknown> = {
      setAutoload: () => o.setAutoload(GENERATOR_PROGRAM, true),
      setMaxEntries: () => o.setMaxEntries('events', 1 << 16),
      setRodata: () => o.setRodata('inode_arg', Buffer.alloc(4)),
      reuseMap: () => o.reuseMap('events', o, 'events'),
      load: () => o.load(),
      attach: () => o.attach(GENERATOR_PROGRAM),
      mapUpdate: () => o.mapUpdate('counters', b, Buffer.alloc(8), 0),
      mapLookup: () => o.mapLookup('counters', b),
      mapDelete: () => o.mapDelete('counters', b),
      mapUpdateBatch: () => o.mapUpdateBatch('counters', b, Buffer.alloc(8), 1),
      mapCount: () => o.mapCount('counters'),
      mapEntries: () => o.mapEntries('counters', 10),
      tcAttach: () => o.tcAttach(GENERATOR_PROGRAM, 1, true),
      tcDetach: () => o.tcDetach(1),
      testRunPacket: () => o.testRunPacket(GENERATOR_PROGRAM, b, 1),
      testRun: () => o.testRun(GENERATOR_PROGRAM, generatorArgs(1)),
      runLoad: () => o.runLoad(GENERATOR_PROGRAM, generatorArgs(1), 0, 10),
      startRingbuf: () => o.startRingbuf('events', () => {}, noPollError),
      structLayout: () => o.structLayout('hive_bench_args'),
    };
    // ... and the addon has no method the list misses
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(o)).filter((m) => !['constructor', 'close', 'stopRingbuf'].includes(m));
    assert.deepEqual(methods.sort(), Object.keys(calls).sort());
    for (const [name, call] of Object.entries(calls)) throwsOp(call, name, 'BpfObject is closed', EBADF);
  });

  test('closing an object while its poller runs stops and joins it: no batch after close()', async () => {
    const o = generatorObject();
    let batches = 0;
    o.startRingbuf('events', () => batches++, noPollError, 5);
    // the generator runs on a worker thread meanwhile, with its own copy of the program's descriptor
    const load = o.runLoad(GENERATOR_PROGRAM, generatorArgs(50), 1000, 600);
    await waitFor(() => batches > 0, 3000, 'a first batch');
    o.close();
    const seen = batches;
    await sleep(200);
    assert.equal(batches, seen, 'no batch arrives after close()');
    assert.deepEqual(pollThreads(), [], 'the poll thread has ended');
    const r = await load;
    assert.ok(r.calls > 0, 'the generator ran on, unharmed by close()');
  });

  test('close() from inside the batch callback, then stop and close again, are fine', async () => {
    const o = generatorObject();
    let batches = 0;
    o.startRingbuf('events', () => {
      batches++;
      o.close();
    }, noPollError, 5);
    generate(o, 10);
    await waitFor(() => batches === 1, 3000, 'the batch');
    await sleep(100);
    assert.equal(batches, 1);
    o.stopRingbuf();
    o.close();
    throwsOp(() => generate(o, 1), 'testRun', 'BpfObject is closed');
  });

  test('polling stops twice, starts again, and refuses a second poller or a map that is no ring buffer', async () => {
    const o = generatorObject();
    try {
      let got = 0;
      const count = (_b: Buffer, n: number) => (got += n);
      o.startRingbuf('events', count, noPollError, 5);
      throwsOp(() => o.startRingbuf('events', count, noPollError, 5), 'startRingbuf(events)', 'already polling: stopRingbuf() first');
      o.stopRingbuf();
      o.stopRingbuf();
      o.startRingbuf('events', count, noPollError, 5);
      generate(o, 7);
      await waitFor(() => got === 7, 3000, '7 events');
      throwsOp(() => o.startRingbuf('counters', count, noPollError, 5), 'startRingbuf(counters)', 'not a ring buffer map');
      throwsOp(() => o.startRingbuf('events', count, noPollError, 0), 'startRingbuf(events)', 'argument 4 (poll timeout (ms)) must be an integer from 1 to 10000, got 0');
      throwsOp(() => o.startRingbuf('events', count, undefined as unknown as () => void), 'startRingbuf(events)', 'argument 3 (error callback) must be a function, got undefined');
    } finally {
      o.close();
    }
  });

  test('a real poll failure reaches JS once, as an error naming the operation; polling starts again', async () => {
    const o = generatorObject();
    try {
      const errors: NativeError[] = [];
      let got = 0;
      const count = (_b: Buffer, n: number) => (got += n);
      startAndBreak(() => o.startRingbuf('events', count, (e) => errors.push(e), 5));
      await waitFor(() => errors.length === 1, 3000, 'the poll error');
      assert.ok(errors[0] instanceof Error);
      // EINVAL once /dev/null holds the number; EBADF if the thread polled in the instant it was free
      assert.match(errors[0].message, /^startRingbuf\(events\): poll: (Invalid argument \(errno 22\)|Bad file descriptor \(errno 9\))$/);
      assert.equal(errors[0].op, 'startRingbuf(events): poll');
      assert.ok(errors[0].errno === EINVAL || errors[0].errno === EBADF, `errno ${errors[0].errno}`);
      await sleep(100);
      assert.equal(errors.length, 1, 'the thread ended on it: one error, not one per round');
      assert.deepEqual(pollThreads(), []);
      // the ended poller is replaced: a new thread and epoll descriptor
      o.startRingbuf('events', count, (e) => errors.push(e), 5);
      generate(o, 5);
      await waitFor(() => got === 5, 3000, 'events after starting again');
      assert.equal(errors.length, 1);
    } finally {
      o.close();
    }
  });

  test('the file-access monitor logs a poll failure at error level, counts it in pollErrors and polls again', async () => {
    const lines: { level: number; msg: string; err?: string; map?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const { monitor } = FileAccessMonitor.open({ mode: testMode(), ringBufferBytes: 1 << 16, log: logger });
    const gen = BenchGenerator.open(monitor);
    try {
      let got = 0;
      startAndBreak(() => monitor.onEvents((evs) => (got += evs.length), 5));
      await waitFor(() => monitor.counters().pollErrors === 1, 3000, 'pollErrors 1');
      const logged = lines.find((l) => l.msg === 'ring buffer polling failed');
      assert.ok(logged, 'the failure is logged');
      assert.equal(logged.level, 50, 'at error level');
      assert.equal(logged.map, 'events');
      assert.match(logged.err ?? '', /^startRingbuf\(events\): poll: (Invalid argument|Bad file descriptor)/);
      gen.generate(4); // waits in the ring until polling starts again
      await waitFor(() => got === 4, POLL_RESTART_MS + 3000, 'events after the restart');
      assert.equal(monitor.counters().pollErrors, 1);
    } finally {
      gen.close();
      monitor.close();
    }
  });

  test('signals interrupting the poll thread (EINTR) are no failure: polling goes on', async () => {
    const o = generatorObject();
    let signals = 0;
    const onSignal = () => signals++;
    process.on('SIGUSR2', onSignal);
    try {
      let got = 0;
      // a long timeout: the thread sits in epoll_wait when the signals come
      o.startRingbuf('events', (_b, n) => (got += n), noPollError, 1000);
      const threads = pollThreads();
      assert.equal(threads.length, 1);
      // kill(2) with a thread id prefers that thread when it does not block the signal
      for (let i = 0; i < 20; i++) {
        process.kill(threads[0], 'SIGUSR2');
        await sleep(5);
      }
      await waitFor(() => signals > 0, 3000, 'the signals handled');
      generate(o, 3);
      await waitFor(() => got === 3, 5000, 'events after the signals');
      assert.deepEqual(pollThreads(), threads, 'the same thread polls on');
    } finally {
      process.off('SIGUSR2', onSignal);
      o.close();
    }
  });

  test('an error carries only the libbpf lines of its own operation', (t) => {
    // The second direction of a TC filter finds the clsact qdisc there already:
    // libbpf logs the kernel's "Exclusivity flag on" and the attach goes on.
    const link = `hva${process.pid}`.slice(0, 12);
    try {
      execFileSync('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`], { stdio: 'pipe' });
    } catch (e) {
      t.skip(`cannot create a veth pair: ${String(e)}`);
      return;
    }
    const o = new (native().BpfObject)(bpfObjectPath('netmon'));
    try {
      o.load();
      const ifindex = Number(fs.readFileSync(`/sys/class/net/${link}/ifindex`, 'utf8'));
      o.tcAttach('hive_tc_from_pod', ifindex, true, 1);
      o.tcAttach('hive_tc_to_pod', ifindex, false, 1);
      // a kernel refusal libbpf says nothing about: no lines at all
      const key = Buffer.alloc(o.structLayout('hive_pod_key')!.size);
      const value = Buffer.alloc(o.structLayout('hive_pod')!.size);
      o.mapUpdate('pods', key, value, 0);
      assert.throws(
        () => o.mapUpdate('pods', key, value, 1 /* BPF_NOEXIST */),
        (e: NativeError) => e.errno === EEXIST && e.op === 'mapUpdate(pods)' && e.libbpfLog === undefined,
      );
      // a failure libbpf explains: its lines, and none of the earlier ones
      assert.throws(
        () => new (native().BpfObject)('/nonexistent/hive-misuse.bpf.o'),
        (e: NativeError) => {
          assert.equal(e.libbpfLog, 'elf: failed to open /nonexistent/hive-misuse.bpf.o: No such file or directory');
          return true;
        },
      );
    } finally {
      o.close();
      execFileSync('ip', ['link', 'del', link]);
    }
  });

  test("two Node environments keep their own objects: a worker's exit closes its objects, not ours", async () => {
    const isBpf = (l: string) => l.startsWith('anon_inode:bpf');
    const base = fdsOf(isBpf).size;
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const addon = require(workerData.addon);
       const o = new addon.BpfObject(workerData.object);
       o.setAutoload(workerData.program, true);
       o.setMaxEntries('events', 1 << 16);
       o.load();
       o.startRingbuf('events', () => {}, () => {}, 5);
       parentPort.postMessage('ready');`,
      { eval: true, workerData: { addon: addonPath(), object: bpfObjectPath('bench'), program: GENERATOR_PROGRAM } },
    );
    try {
      await once(worker, 'message');
      const withWorker = fdsOf(isBpf).size;
      assert.ok(withWorker > base, "the worker's object holds BPF descriptors");
      // opened after the worker loaded the addon: with one process-wide list of
      // objects, the worker's exit would close it
      const mine = generatorObject();
      try {
        const withMine = fdsOf(isBpf).size;
        let got = 0;
        mine.startRingbuf('events', (_b, n) => (got += n), noPollError, 5);
        await worker.terminate();
        assert.equal(fdsOf(isBpf).size, withMine - (withWorker - base), "the worker's descriptors are gone, ours are not");
        assert.equal(mine.mapCount('counters'), COUNTER_MAX, 'our maps are still there');
        generate(mine, 3);
        await waitFor(() => got === 3, 3000, 'our events after the worker left');
      } finally {
        mine.close();
      }
    } finally {
      await worker.terminate();
    }
  });
});
