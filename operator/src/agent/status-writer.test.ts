// The writer's decisions (what to write, when), against a recording stand-in
// for the API; the writes themselves go to a real API server in the e2e tests.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { log } from '../util/log';
import { k8sLib } from '../kube/client';
import { Counters, EgressBlock, NodeEntry, NodeReport, StatusWriter } from './status-writer';
import type { InventoryReport } from './inventory';

before(() => k8sLib()); // loaded once: its first import takes longer than the waits below

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KEY = { namespace: 'a', name: 't' };

function setup(
  opts: { stored?: NodeEntry; countersIntervalMs?: number; fail?: () => boolean; inventoryIntervalMs?: number; blocks?: () => EgressBlock[] } = {},
) {
  const writes: { at: number; entry: NodeEntry }[] = [];
  const custom = {
    patchNamespacedCustomObjectStatus: async (req: { body: { status: { nodes: NodeEntry[] } } }) => {
      if (opts.fail?.()) throw Object.assign(new Error('unavailable'), { code: 503 });
      writes.push({ at: Date.now(), entry: req.body.status.nodes[0] });
      return {};
    },
  } as unknown as k8s.CustomObjectsApi;
  let counters: Counters | undefined;
  let inventory: InventoryReport | undefined;
  const adopted: InventoryReport[] = [];
  const w = new StatusWriter(custom, 'n1', log, {
    counters: () => counters,
    stored: () => opts.stored,
    countersIntervalMs: opts.countersIntervalMs ?? 200,
    minIntervalMs: 20,
    ...(opts.inventoryIntervalMs ? { inventory: () => inventory, adoptInventory: (_k, s) => adopted.push(s), inventoryIntervalMs: opts.inventoryIntervalMs } : {}),
    blocks: opts.blocks,
  });
  return { w, writes, adopted, setCounters: (c: Counters) => (counters = c), setInventory: (i: InventoryReport) => (inventory = i) };
}

const ok: NodeReport = { podsMatched: 1, filesWatched: 2, podAddressesMonitored: 0, unresolved: [] };
const bad: NodeReport = { ...ok, filesWatched: 1, unresolved: [{ pod: 'p', container: 'c', path: '/x', reason: 'not found' }] };

test('the same report twice is written once; lastTransitionTime moves only when Ready flips', async () => {
  const { w, writes } = setup();
  w.report(KEY, ok);
  await sleep(40);
  w.report(KEY, { ...ok, unresolved: [] });
  await sleep(40);
  assert.equal(writes.length, 1);
  assert.equal(writes[0].entry.conditions![0].status, 'True');
  const t0 = writes[0].entry.conditions![0].lastTransitionTime;
  assert.equal((writes[0].entry as Record<string, unknown>).updated, undefined, 'no timestamp that changes every write');
  await sleep(5);
  w.report(KEY, { ...ok, podsMatched: 2 }); // changed, still Ready
  await sleep(40);
  assert.equal(writes.length, 2);
  assert.equal(writes[1].entry.conditions![0].lastTransitionTime, t0);
  w.report(KEY, bad); // flips
  await sleep(40);
  assert.equal(writes.length, 3);
  assert.equal(writes[2].entry.conditions![0].status, 'False');
  assert.notEqual(writes[2].entry.conditions![0].lastTransitionTime, t0);
  w.stop();
});

test("what the API server holds is adopted: a restarted agent with the same report writes nothing, and keeps counting", async () => {
  const stored: NodeEntry = {
    node: 'n1',
    podsMatched: 1,
    filesWatched: 2,
    podAddressesMonitored: 0,
    unresolved: [],
    eventsSeen: 7,
    lastEventTime: '2026-01-01T00:00:00.000Z',
    conditions: [{ type: 'Ready', status: 'True', reason: 'Watching', lastTransitionTime: '2026-01-01T00:00:00.000Z' }],
  };
  const { w, writes, setCounters } = setup({ stored, countersIntervalMs: 100 });
  w.report(KEY, ok);
  await sleep(250);
  assert.equal(writes.length, 0);
  setCounters({ eventsSeen: 2, lastEventTime: '2026-01-02T00:00:00.000Z' });
  await sleep(250);
  assert.equal(writes.length, 1);
  assert.equal(writes[0].entry.eventsSeen, 9);
  assert.equal(writes[0].entry.conditions![0].lastTransitionTime, '2026-01-01T00:00:00.000Z');
  w.stop();
});

test('counters alone are written at most once per interval', async () => {
  const { w, writes, setCounters } = setup({ countersIntervalMs: 200 });
  w.report(KEY, ok);
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < 1000) {
    setCounters({ eventsSeen: ++n, lastEventTime: new Date().toISOString() });
    await sleep(10);
  }
  await sleep(20);
  w.stop();
  const gaps = writes.slice(1).map((x, i) => x.at - writes[i].at);
  assert.ok(writes.length >= 3 && writes.length <= 6, `${writes.length} writes in 1 s at a 200 ms interval`);
  for (const g of gaps) assert.ok(g >= 195, `writes ${g} ms apart`);
});

test('a failed write is retried with what is current', async () => {
  let failing = true;
  const { w, writes } = setup({ fail: () => failing });
  w.report(KEY, ok);
  await sleep(50);
  assert.equal(writes.length, 0);
  w.report(KEY, bad);
  failing = false;
  await sleep(1300);
  assert.equal(writes.length, 1);
  assert.equal(writes[0].entry.filesWatched, 1);
  w.stop();
});

test('a dry run: Ready says DryRun, the explanation is written once, and adopted after a restart', async () => {
  const explain = {
    entries: [{ pod: 'p', container: 'c', path: '/etc/secret', final: '/etc/secret', inode: '42', dev: '0:39', hops: 0, mount: 'overlay overlay on /' }],
    omitted: 0,
    files: 1,
    podAddresses: 0,
  };
  const dry: NodeReport = { podsMatched: 1, filesWatched: 0, podAddressesMonitored: 0, unresolved: [], dryRun: true, explain };
  const { w, writes } = setup();
  w.report(KEY, dry);
  await sleep(40);
  w.report(KEY, { ...dry, explain: { ...explain, entries: explain.entries.map((e) => ({ ...e })) } });
  await sleep(40);
  w.stop();
  assert.equal(writes.length, 1);
  const e = writes[0].entry;
  assert.equal(e.conditions![0].reason, 'DryRun');
  assert.equal(e.conditions![0].status, 'True');
  assert.match(e.conditions![0].message!, /^dry run, nothing attached: 1 file\(s\) would be watched in 1 pod\(s\)$/);
  assert.deepEqual(e.explain, explain);
  assert.equal(e.dryRun, true);
  // the entry as the API server would send it back: nothing new to say, nothing written
  const again = setup({ stored: JSON.parse(JSON.stringify(e)) as NodeEntry });
  again.w.report(KEY, dry);
  await sleep(60);
  again.w.stop();
  assert.equal(again.writes.length, 0);
  // unresolved in a dry run: Ready False, reason still DryRun
  const un = setup();
  un.w.report(KEY, { ...dry, unresolved: [{ pod: 'p', container: 'c', path: '/x', reason: "missing: no 'x' in /" }] });
  await sleep(40);
  un.w.stop();
  assert.equal(un.writes[0].entry.conditions![0].status, 'False');
  assert.equal(un.writes[0].entry.conditions![0].reason, 'DryRun');
  assert.match(un.writes[0].entry.conditions![0].message!, /; 1 path\(s\) or container\(s\) not resolved: p\/c \/x: missing/);
});

test('the inventory alone is written at most once per its interval, only when it changed, carried by every write, adopted after a restart', async () => {
  const { w, writes, setInventory } = setup({ countersIntervalMs: 60_000, inventoryIntervalMs: 200 });
  const inv = (count: number): InventoryReport => ({
    entries: [{ pod: 'p', container: 'c', exe: '/bin/cat', path: '/etc/secret', access: 'read', count, firstSeen: '2026-12-02T10:00:00.000Z', lastSeen: new Date().toISOString(), uid: 0 }],
    omitted: 0,
  });
  w.report(KEY, ok);
  await sleep(40);
  assert.equal(writes.length, 1);
  assert.equal(writes[0].entry.inventory, undefined, 'nothing seen yet: no inventory');
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < 1000) {
    setInventory(inv(++n));
    await sleep(10);
  }
  await sleep(300); // the last change is written within the interval ...
  const settled = writes.length;
  assert.equal(writes[settled - 1].entry.inventory!.entries[0].count, n);
  await sleep(400); // ... and then, nothing changing, nothing more
  assert.equal(writes.length, settled);
  w.report(KEY, { ...ok, podsMatched: 2 }); // a report write carries the inventory
  await sleep(60);
  w.stop();
  assert.ok(settled >= 1 + 4 && settled <= 1 + 7, `${settled - 1} inventory writes in 1.3 s at a 200 ms interval`);
  assert.equal(writes.length, settled + 1);
  for (const [i, x] of writes.slice(2).entries()) assert.ok(x.at - writes[i + 1].at >= 195, 'at most one per interval');
  const last = writes[writes.length - 1].entry;
  assert.equal(last.podsMatched, 2);
  assert.equal(last.inventory!.entries[0].count, n);

  // restarted: the stored inventory is handed to the live one, and the same one is not written again
  const again = setup({ stored: JSON.parse(JSON.stringify(last)) as NodeEntry, countersIntervalMs: 60_000, inventoryIntervalMs: 50 });
  again.w.report(KEY, { ...ok, podsMatched: 2 });
  await sleep(200);
  assert.deepEqual(again.adopted, [last.inventory]);
  assert.equal(again.writes.length, 0);
  again.setInventory(JSON.parse(JSON.stringify(last.inventory)) as InventoryReport); // the merge of stored and nothing new
  await sleep(200);
  assert.equal(again.writes.length, 0);
  again.w.stop();
});

test('egress blocks: written soon after they change, gone when they end; stale ones a restarted agent no longer holds are cleared', async () => {
  let blocks: EgressBlock[] = [];
  const { w, writes } = setup({ countersIntervalMs: 60_000, blocks: () => blocks });
  w.report(KEY, ok);
  await sleep(40);
  assert.equal(writes.length, 1);
  assert.equal(writes[0].entry.blocks, undefined);
  blocks = [{ pod: 'web', since: '2026-12-02T10:00:00.000Z', until: '2026-12-02T10:01:00.000Z', path: '/etc/secret', destination: '198.18.0.2:443' }];
  w.blocksChanged(KEY);
  await sleep(40);
  assert.equal(writes.length, 2, 'written without waiting for the counters interval');
  assert.deepEqual(writes[1].entry.blocks, blocks);
  w.report(KEY, ok); // the same report, the same blocks: nothing to write
  await sleep(40);
  assert.equal(writes.length, 2);
  blocks = [];
  w.blocksChanged(KEY);
  await sleep(40);
  assert.equal(writes.length, 3);
  assert.equal(writes[2].entry.blocks, undefined, 'the field left out: server-side apply removes it');
  w.stop();
  const stored = { ...writes[1].entry };
  const r = setup({ stored, blocks: () => [] });
  r.w.report(KEY, ok);
  await sleep(40);
  assert.equal(r.writes.length, 1, 'the stored entry lists a block this agent does not hold');
  assert.equal(r.writes[0].entry.blocks, undefined);
  r.w.stop();
});

test('a deny trace this node cannot apply is Ready=False, reason EnforcementUnavailable, over Unresolved; an applied kill says so in the message; adopted unchanged, nothing rewritten', async () => {
  const { w, writes } = setup();
  const unavailable: NodeReport = { ...bad, enforcement: { applied: 'would-deny', mode: 'tracepoint', reason: 'mode tracepoint cannot deny; modes that can: fentry, lsm', unavailable: true } };
  w.report(KEY, unavailable);
  await sleep(40);
  const c = writes[0].entry.conditions![0];
  assert.deepEqual([c.status, c.reason], ['False', 'EnforcementUnavailable']);
  assert.match(c.message!, /^cannot enforce here: mode tracepoint cannot deny; modes that can: fentry, lsm; 1 file\(s\) watched in 1 pod\(s\), audited as would-deny; 1 path/);
  assert.deepEqual(writes[0].entry.enforcement, unavailable.enforcement);
  w.report(KEY, { ...ok, enforcement: { applied: 'kill', mode: 'tracepoint' } });
  await sleep(40);
  const k = writes[1].entry.conditions![0];
  assert.deepEqual([k.status, k.reason, k.message], ['True', 'Watching', '2 file(s) watched in 1 pod(s) (kill in mode tracepoint)']);
  w.stop();
  // a restarted agent finds its entry and has nothing new to say
  const again = setup({ stored: writes[1].entry });
  again.w.report(KEY, { ...ok, enforcement: { applied: 'kill', mode: 'tracepoint' } });
  await sleep(40);
  assert.equal(again.writes.length, 0);
  again.w.stop();
});
