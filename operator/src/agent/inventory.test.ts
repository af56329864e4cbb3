// The inventory's counting, merging and bounds (pure: no kernel, no API).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Access, Inventory, InventoryReport, bounded, executableOf, mergeEntry } from './inventory';

const T = 'ns/t';
const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 10, 0, s)).toISOString();
const access = (exe: string, s: number, o: Partial<Access> = {}): Access => ({ pod: 'p', container: 'c', exe, path: '/etc/secret', access: 'read', count: 1, time: at(s), uid: 0, ...o });

test('the executable is process.exe when the event has one, else comm', () => {
  assert.equal(executableOf({ comm: 'cat', exe: '/usr/bin/cat' }), '/usr/bin/cat');
  assert.equal(executableOf({ comm: 'cat' }), 'cat');
  assert.equal(executableOf({ comm: 'cat', exe: '' }), 'cat');
});

test('one entry per (pod, container, exe, path, access): counts add (folded counts too), times widen, the last uid stays', () => {
  const inv = new Inventory(50);
  inv.add(T, access('cat', 1, { uid: 1000 }));
  inv.add(T, access('cat', 3, { count: 499, uid: 0 }));
  inv.add(T, access('cat', 2, { uid: 7 })); // late: widens nothing, not the last uid
  inv.add(T, access('cat', 4, { access: 'write' }));
  inv.add(T, access('cat', 4, { container: 'd' }));
  inv.add(T, access('cat', 4, { path: '/etc/other' }));
  inv.add(T, access('head', 0));
  const r = inv.report(T)!;
  assert.equal(r.entries.length, 5);
  assert.equal(r.omitted, 0);
  const cat = r.entries.find((e) => e.exe === 'cat' && e.access === 'read' && e.container === 'c' && e.path === '/etc/secret')!;
  assert.deepEqual(cat, { pod: 'p', container: 'c', exe: 'cat', path: '/etc/secret', access: 'read', count: 501, firstSeen: at(1), lastSeen: at(3), uid: 0 });
  // the most recently seen first
  assert.deepEqual(r.entries.map((e) => e.lastSeen), [at(4), at(4), at(4), at(3), at(0)]);
  assert.equal(inv.report('ns/other'), undefined);
});

test('bounded at N, the most recent kept, the rest counted in omitted', () => {
  const inv = new Inventory(3);
  for (let i = 0; i < 10; i++) inv.add(T, access(`exe${i}`, i));
  inv.add(T, access('exe0', 20)); // seen again: most recent now
  const r = inv.report(T)!;
  assert.deepEqual(r.entries.map((e) => e.exe), ['exe0', 'exe9', 'exe8']);
  assert.equal(r.omitted, 7);
  assert.equal(r.entries[0].count, 2);
  // a report is a copy: later accesses do not change what was reported
  inv.add(T, access('exe0', 21));
  assert.equal(r.entries[0].count, 2);
});

test('memory stays bounded: entries past `keep` are dropped, least recent first, and stay counted', () => {
  const inv = new Inventory(2, 4);
  for (let i = 0; i < 100; i++) inv.add(T, access(`exe${i}`, i));
  const r = inv.report(T)!;
  assert.deepEqual(r.entries.map((e) => e.exe), ['exe99', 'exe98']);
  assert.equal(r.omitted, 98, 'every entry not shown is counted, dropped or not');
});

test('a stored inventory (an agent restart) is merged in, with what was seen since', () => {
  const inv = new Inventory(50);
  inv.add(T, access('cat', 30, { count: 2 }));
  const stored: InventoryReport = {
    entries: [
      { pod: 'p', container: 'c', exe: 'cat', path: '/etc/secret', access: 'read', count: 10, firstSeen: at(5), lastSeen: at(9), uid: 3 },
      { pod: 'q', container: 'c', exe: 'sh', path: '/etc/secret', access: 'read', count: 4, firstSeen: at(1), lastSeen: at(2), uid: 0 },
    ],
    omitted: 6,
  };
  inv.seed(T, stored);
  const r = inv.report(T)!;
  assert.deepEqual(r.entries.map((e) => [e.exe, e.count, e.firstSeen, e.lastSeen]), [
    ['cat', 12, at(5), at(30)],
    ['sh', 4, at(1), at(2)],
  ]);
  assert.equal(r.omitted, 6);
  assert.equal(stored.entries[0].count, 10, 'the stored object is not changed');
});

test('mergeEntry and bounded, alone', () => {
  const a = { pod: 'p', container: 'c', exe: 'x', path: '/f', access: 'read' as const, count: 1, firstSeen: at(5), lastSeen: at(6), uid: 1 };
  mergeEntry(a, { ...a, count: 2, firstSeen: at(1), lastSeen: at(2), uid: 9 });
  assert.deepEqual([a.count, a.firstSeen, a.lastSeen, a.uid], [3, at(1), at(6), 1]);
  assert.deepEqual(bounded([], 5), { entries: [], omitted: 0 });
});

test('size 0 turns the inventory off', () => {
  const inv = new Inventory(0);
  inv.add(T, access('cat', 1));
  assert.equal(inv.enabled, false);
  assert.equal(inv.report(T), undefined);
});

test("the accessor is part of an entry: the node's kubelet and a pod's /usr/bin/kubelet are two entries (SECURITY-REVIEW M8)", () => {
  const inv = new Inventory(50);
  const watch = { pod: { name: 'p' }, container: { name: 'c' } };
  inv.addAccess(T, watch, '/usr/bin/kubelet', '/etc/secret', 'read', 1, at(1), 0);
  inv.addAccess(T, watch, '/usr/bin/kubelet', '/etc/secret', 'read', 2, at(2), 0, 'host');
  inv.addAccess(T, watch, '/usr/bin/kubelet', '/etc/secret', 'read', 4, at(3), 0, 'pod:b/scanner');
  inv.addAccess(T, watch, '/usr/bin/kubelet', '/etc/secret', 'read', 8, at(4), 0, 'host');
  const r = inv.report(T)!;
  assert.deepEqual(r.entries.map((e) => [e.accessor, e.count]), [['host', 10], ['pod:b/scanner', 4], [undefined, 1]]);
  assert.equal('accessor' in r.entries[2], false, "the pod's own entry has no accessor field");
});
