import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilePipeline } from './file-pipeline';
import { Accessors } from './accessors';
import { AgentMetrics } from './metrics';
import { WatchRegistry } from '../fileaccess/watch-registry';
import type { WatchEntry } from '../fileaccess/monitor';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FileEventRecord } from '../fileaccess/file-event';
import { RawFileEvent, recordsOf } from '../fileaccess/layout';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';

let files = 0;
/** A real writer on a temporary file: lines() gives what it wrote, parsed. */
function sink(): { writer: EventWriter; lines: () => Promise<FileEventRecord[]> } {
  const file = path.join(os.tmpdir(), `hive-file-pipeline-${process.pid}-${files++}.jsonl`);
  const fd = fs.openSync(file, 'w+');
  const writer = new EventWriter(undefined, fd);
  return {
    writer,
    lines: async () => {
      await writer.drained();
      const text = fs.readFileSync(file, 'utf8');
      fs.closeSync(fd);
      fs.rmSync(file);
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FileEventRecord);
    },
  };
}

function setup(rateLimit: number | undefined) {
  const entries: WatchEntry[] = [];
  const registry = new WatchRegistry({ watch: (es) => entries.push(...es), unwatch: () => 0 });
  registry.set('ns/t|u|c', [{ ino: 5n, dev: 9, path: '/etc/shadow', access: 7, trace: { namespace: 'ns', name: 't' }, pod: { namespace: 'ns', name: 'p', uid: 'u' }, container: { name: 'c', id: 'id' } }]);
  const { writer, lines } = sink();
  const metrics = new AgentMetrics();
  const p = new FilePipeline(registry, writer, new Clock(), 'node-a', metrics, () => rateLimit);
  const raw = (count: number): RawFileEvent => ({
    tsNs: Number(process.hrtime.bigint()), ino: 5n, cgroupId: 1n, dev: 9, watchId: entries[0].watchId, pid: 10, tgid: 10, ppid: 1,
    uid: 0, gid: 0, access: 1, rawMask: 1, fileMode: 0o100600, source: 4, verdict: 0, comm: 'storm', count, scopeNs: 0,
  });
  return { p, lines, metrics, raw };
}

test("a record the kernel folded keeps its count in the line, the trace's counters and the metrics", async () => {
  const { p, lines, metrics, raw } = setup(undefined);
  p.handle(recordsOf([raw(1), raw(99_999)]));
  assert.deepEqual((await lines()).map((l) => l.count), [undefined, 99_999]);
  assert.equal(p.counters({ namespace: 'ns', name: 't' })!.eventsSeen, 100_000);
  const m = await metrics.registry.getSingleMetricAsString('hive_events_total');
  assert.match(m, /hive_events_total\{trace="ns\/t",access="read",verdict="allowed"\} 100000/);
  p.stop();
});

test('the metrics count accesses per verdict: a killed or refused access is not counted as allowed', async () => {
  const { p, metrics, raw } = setup(undefined);
  p.handle(recordsOf([raw(3), { ...raw(1), verdict: 2 }, { ...raw(4), verdict: 1 }, { ...raw(1), verdict: 2 }]));
  const m = await metrics.registry.getSingleMetricAsString('hive_events_total');
  assert.match(m, /hive_events_total\{trace="ns\/t",access="read",verdict="allowed"\} 3$/m);
  assert.match(m, /hive_events_total\{trace="ns\/t",access="read",verdict="killed"\} 2$/m);
  assert.match(m, /hive_events_total\{trace="ns\/t",access="read",verdict="denied"\} 4$/m);
  p.releaseTrace({ namespace: 'ns', name: 't' });
  assert.doesNotMatch(await metrics.registry.getSingleMetricAsString('hive_events_total'), /trace="ns\/t"/);
  p.stop();
});

test('under a rateLimit, held-back folded records add their whole count to the summary', async () => {
  const { p, lines, raw } = setup(1);
  p.handle(recordsOf([raw(1), raw(500), raw(250)]));
  p.stop(); // closes the window
  assert.deepEqual((await lines()).map((l) => l.count), [undefined, 750]);
});

test('under a rateLimit, a read of the secret among repeats of another file keeps a line of its own (SECURITY-REVIEW M9, security-poc/poc5)', async () => {
  const entries: WatchEntry[] = [];
  const registry = new WatchRegistry({ watch: (es) => entries.push(...es), unwatch: () => 0 });
  const meta = { trace: { namespace: 'demo', name: 'secrets' }, pod: { namespace: 'demo', name: 'web', uid: 'u' }, container: { name: 'app', id: 'c1' } };
  registry.set('demo/secrets|u|app', [
    { ino: 11n, dev: 5, path: '/etc/app/config', access: 7, ...meta },
    { ino: 22n, dev: 5, path: '/etc/db/password', access: 7, ...meta },
  ]);
  const idOf = (ino: bigint) => entries.find((e) => e.ino === ino)!.watchId;
  const { writer, lines } = sink();
  const p = new FilePipeline(registry, writer, new Clock(), 'n1', new AgentMetrics(), () => 2);
  const ev = (ino: bigint, i: number): RawFileEvent => ({
    tsNs: Number(process.hrtime.bigint()) + i * 1_000_000, ino, dev: 5, cgroupId: 1n, watchId: idOf(ino), pid: 100, tgid: 100, ppid: 1,
    uid: 0, gid: 0, access: 1, rawMask: 4, fileMode: 0o100644, source: 4, verdict: 0, comm: 'cat', count: 1, scopeNs: 0,
  });
  const seq = [11n, 11n, 11n, 22n, 11n];
  p.handle(recordsOf(seq.map(ev)));
  p.stop(); // closes the window
  const out = await lines();
  assert.deepEqual(out.map((l) => [l.path, l.count]), [
    ['/etc/app/config', undefined],
    ['/etc/app/config', undefined],
    ['/etc/app/config', 2],
    ['/etc/db/password', 1],
  ]);
  const held = out[2];
  assert.ok(held.first_time! < held.time, `the summary says when its first access was: ${held.first_time} < ${held.time}`);
  assert.equal(out[3].first_time, out[3].time);
});

test('the inventory counts every access under the executable (comm without exe), folded counts and rate-limited records included', () => {
  const { p, raw } = setup(1);
  p.handle(recordsOf([raw(1), raw(500), raw(250)]));
  const inv = p.inventoryOf({ namespace: 'ns', name: 't' })!;
  p.stop();
  assert.equal(inv.entries.length, 1);
  assert.deepEqual({ ...inv.entries[0], firstSeen: undefined, lastSeen: undefined }, { pod: 'p', container: 'c', exe: 'storm', path: '/etc/shadow', access: 'read', count: 751, uid: 0, firstSeen: undefined, lastSeen: undefined });
  assert.ok(inv.entries[0].firstSeen <= inv.entries[0].lastSeen);
  p.releaseTrace({ namespace: 'ns', name: 't' });
  assert.equal(p.inventoryOf({ namespace: 'ns', name: 't' }), undefined);
});

test("a kernel would-deny is the intent owner's: on one inode, the audit-first deny trace says would-deny, the plain audit trace allowed", async () => {
  const entries: WatchEntry[] = [];
  const registry = new WatchRegistry({ watch: (es) => entries.push(...es), unwatch: () => 0 });
  const file = { ino: 5n, dev: 9, path: '/etc/shadow', access: 1, pod: { namespace: 'ns', name: 'p', uid: 'u' }, container: { name: 'c', id: 'id' } };
  registry.set('ns/audit|u|c', [{ ...file, trace: { namespace: 'ns', name: 'audit' } }]);
  registry.set('ns/rollout|u|c', [{ ...file, intent: 'kill', trace: { namespace: 'ns', name: 'rollout' } }]);
  // the kernel entry asks for would-deny on read, stops nothing
  const last = entries[entries.length - 1];
  assert.equal(last.would, 1);
  assert.deepEqual([last.kill, last.deny], [0, 0]);
  const { writer, lines } = sink();
  const metrics = new AgentMetrics();
  const p = new FilePipeline(registry, writer, new Clock(), 'node-a', metrics, () => undefined);
  p.handle(
    recordsOf([
      { tsNs: Number(process.hrtime.bigint()), ino: 5n, cgroupId: 1n, dev: 9, watchId: last.watchId, pid: 10, tgid: 10, ppid: 1, uid: 0, gid: 0, access: 1, rawMask: 1, fileMode: 0o100600, source: 4, verdict: 3, comm: 'cat', count: 2, scopeNs: 0 },
    ]),
  );
  assert.deepEqual(Object.fromEntries((await lines()).map((l) => [l.trace!.name, l.verdict])), { audit: 'allowed', rollout: 'would-deny' });
  const m = await metrics.registry.getSingleMetricAsString('hive_events_total');
  assert.match(m, /hive_events_total\{trace="ns\/rollout",access="read",verdict="would-deny"\} 2$/m);
  assert.match(m, /hive_events_total\{trace="ns\/audit",access="read",verdict="allowed"\} 2$/m);
  // the intent goes with its owner: the kernel entry no longer asks
  registry.remove('ns/rollout|u|c');
  assert.equal(entries[entries.length - 1].would, 0);
  p.stop();
});

test('a writer that renders (--pretty) gets records, and a correlating trace its reads; the same records the lines say', async () => {
  const entries: WatchEntry[] = [];
  const registry = new WatchRegistry({ watch: (es) => entries.push(...es), unwatch: () => 0 });
  registry.set('ns/t|u|c', [{ ino: 5n, dev: 9, path: '/etc/shadow', access: 7, trace: { namespace: 'ns', name: 't' }, pod: { namespace: 'ns', name: 'p', uid: 'u' }, container: { name: 'c', id: 'id' } }]);
  const file = path.join(os.tmpdir(), `hive-file-pipeline-${process.pid}-pretty.txt`);
  const fd = fs.openSync(file, 'w+');
  const rendered: FileEventRecord[] = [];
  const writer = new EventWriter<FileEventRecord>((r) => {
    rendered.push(r);
    return `${r.process.comm} ${r.access.join(',')}`;
  }, fd);
  const p = new FilePipeline(registry, writer as unknown as EventWriter, new Clock(), 'node-a', new AgentMetrics(), () => undefined);
  const tapped: FileEventRecord[] = [];
  p.tap = { wants: (t) => t.name === 't', file: (r) => tapped.push(r) };
  const ev = (comm: string, access: number): RawFileEvent => ({
    tsNs: Number(process.hrtime.bigint()), ino: 5n, cgroupId: 1n, dev: 9, watchId: entries[0].watchId, pid: 10, tgid: 10, ppid: 1,
    uid: 0, gid: 0, access, rawMask: access, fileMode: 0o100600, source: 4, verdict: 0, comm, count: 1, scopeNs: 0,
  });
  p.handle(recordsOf([ev('cat', 1), ev('tee', 2), ev('sh', 5)]));
  await writer.drained();
  assert.equal(fs.readFileSync(file, 'utf8'), 'cat read\ntee write\nsh read,exec\n');
  assert.deepEqual(tapped.map((r) => r.process.comm), ['cat', 'sh'], 'the reads only');
  assert.deepEqual(rendered.map((r) => r.path), ['/etc/shadow', '/etc/shadow', '/etc/shadow']);
  fs.closeSync(fd);
  fs.rmSync(file);
  p.stop();
});

test("who accessed: the trace's own pod, another pod, the node; a would-deny is the scope's owner's only; the bytes path and the record path agree", async () => {
  const entries: WatchEntry[] = [];
  const registry = new WatchRegistry({ watch: (es) => entries.push(...es), unwatch: () => 0 });
  const web = { namespace: 'a', name: 'web', uid: 'uid-web' };
  const scanner = { namespace: 'b', name: 'scanner', uid: 'uid-scanner' };
  // one host file, watched by a's trace (intent deny, scoped to web's pid namespace 200) and b's audit trace
  registry.set('a/t|uid-web|c', [{ ino: 7n, dev: 3, path: '/shared/secret', access: 1, intent: 'deny', scope: 200, trace: { namespace: 'a', name: 't' }, pod: web, container: { name: 'c', id: 'i1' } }]);
  registry.set('b/u|uid-scanner|c', [{ ino: 7n, dev: 3, path: '/data/secret', access: 1, scope: 300, trace: { namespace: 'b', name: 'u' }, pod: scanner, container: { name: 'c', id: 'i2' } }]);
  const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-pipeline-proc-'));
  fs.mkdirSync(path.join(proc, '1', 'ns'), { recursive: true });
  fs.symlinkSync('pid:[100]', path.join(proc, '1', 'ns', 'pid'));
  const accessors = new Accessors({ hostProc: proc, podByUid: () => undefined });
  accessors.scope(200, web);
  accessors.scope(300, scanner);
  for (const bytes of [true, false]) {
    const { writer, lines } = sink();
    if (!bytes) Object.defineProperty(writer, 'takesBytes', { value: false });
    const p = new FilePipeline(registry, writer, new Clock(), 'n1', new AgentMetrics(), () => undefined, undefined, accessors);
    const ev = (tgid: number, pidNs: number, scopeNs: number, verdict: number): RawFileEvent => ({
      tsNs: Number(process.hrtime.bigint()), ino: 7n, dev: 3, cgroupId: 1n, watchId: entries[entries.length - 1].watchId, pid: tgid, tgid, ppid: 1,
      uid: 0, gid: 0, access: 1, rawMask: 4, fileMode: 0o100600, source: 4, verdict, comm: 'cat', count: 1, scopeNs,
      lineage: { exe: '/usr/bin/kubelet', pidNs, ancestors: [] },
    });
    // web's cat (the kernel matched its scope: would-deny), scanner's cat, the kubelet's read
    p.handle(recordsOf([ev(10, 200, 200, 3), ev(20, 300, 0, 0), ev(30, 100, 0, 0)]));
    p.stop();
    const out = (await lines()).map((l) => [l.trace!.name, l.process.tgid, l.verdict, l.accessor, l.accessor_pod?.name]);
    assert.deepEqual(out, [
      ['t', 10, 'would-deny', 'pod', undefined],
      ['u', 10, 'allowed', 'other-pod', 'web'],
      ['t', 20, 'allowed', 'other-pod', 'scanner'],
      ['u', 20, 'allowed', 'pod', undefined],
      ['t', 30, 'allowed', 'host', undefined],
      ['u', 30, 'allowed', 'host', undefined],
    ], `bytes: ${bytes}`);
  }
  fs.rmSync(proc, { recursive: true, force: true });
});
