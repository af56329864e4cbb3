import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InodeMap, WatchRegistry } from './watch-registry';
import type { InodeRef, WatchEntry } from './monitor';

/** Records what the registry asks of the kernel map, as the map would hold it. */
class FakeMap implements InodeMap {
  entries = new Map<string, WatchEntry>();
  watch(es: WatchEntry[]) {
    for (const e of es) this.entries.set(`${e.dev}:${e.ino}`, e);
  }
  unwatch(rs: InodeRef[]) {
    let n = 0;
    for (const r of rs) if (this.entries.delete(`${r.dev}:${r.ino}`)) n++;
    return n;
  }
}

const owner = (trace: string, access: number) => ({
  path: '/etc/shadow',
  access,
  trace: { namespace: 'a', name: trace },
  pod: { namespace: 'a', name: 'p', uid: 'u' },
  container: { name: 'c', id: 'id' },
});

test('shared inodes: union of masks, removed with their last owner', () => {
  const m = new FakeMap();
  const r = new WatchRegistry(m);
  const f = { ino: 5n, dev: 9 };
  r.set('a/t1|u|c', [{ ...f, ...owner('t1', 1) }]);
  r.set('a/t2|u|c', [{ ...f, ...owner('t2', 2) }]);
  assert.equal(m.entries.size, 1);
  const e = [...m.entries.values()][0];
  assert.equal(e.access, 3);
  assert.deepEqual(r.owners(e.watchId, 1).map((o) => o.trace!.name), ['t1']);
  assert.deepEqual(r.owners(e.watchId, 2).map((o) => o.trace!.name), ['t2']);
  r.remove('a/t1|u|c');
  assert.equal([...m.entries.values()][0].access, 2, 'mask narrowed');
  r.remove('a/t2|u|c');
  assert.equal(m.entries.size, 0, 'gone with the last owner');
  assert.equal(r.inodes, 0);
  assert.deepEqual(r.keys(), []);
});

test('set replaces exactly what a key owned', () => {
  const m = new FakeMap();
  const r = new WatchRegistry(m);
  r.set('k', [{ ino: 1n, dev: 1, ...owner('t', 7) }, { ino: 2n, dev: 1, ...owner('t', 7) }]);
  r.set('k', [{ ino: 2n, dev: 1, ...owner('t', 7) }, { ino: 3n, dev: 1, ...owner('t', 7) }]);
  assert.deepEqual([...m.entries.keys()].sort(), ['1:2', '1:3']);
  assert.deepEqual(r.countByTrace(), new Map([['a/t', 2]]));
  assert.equal(r.filesOf('a/t'), 2);
});

test('files per trace follow every set and remove, across keys and shared inodes', () => {
  const r = new WatchRegistry(new FakeMap());
  // what a scan of every owner says: the count kept must always equal it
  const scan = () => {
    const out = new Map<string, number>();
    for (const k of r.keys()) for (const id of [1, 2, 3, 4, 5]) for (const o of r.owners(id, 7)) if (o.key === k && o.trace) out.set(`${o.trace.namespace}/${o.trace.name}`, (out.get(`${o.trace.namespace}/${o.trace.name}`) ?? 0) + 1);
    return out;
  };
  r.set('a|p1', [{ ino: 1n, dev: 1, ...owner('t', 7) }, { ino: 2n, dev: 1, ...owner('t', 7) }]);
  r.set('a|p2', [{ ino: 2n, dev: 1, ...owner('t', 7) }]);
  r.set('b|p1', [{ ino: 1n, dev: 1, ...owner('u', 7) }, { ino: 3n, dev: 1, ...owner('u', 7) }]);
  assert.deepEqual([r.filesOf('a/t'), r.filesOf('a/u')], [3, 2]);
  assert.deepEqual(r.countByTrace(), scan());
  r.set('a|p1', [{ ino: 3n, dev: 1, ...owner('t', 7) }]);
  assert.deepEqual([r.filesOf('a/t'), r.filesOf('a/u')], [2, 2]);
  r.remove('b|p1');
  r.remove('a|p2');
  assert.deepEqual([r.filesOf('a/t'), r.filesOf('a/u')], [1, 0]);
  assert.deepEqual(r.countByTrace(), new Map([['a/t', 1]]));
  assert.deepEqual(r.countByTrace(), scan());
  r.remove('a|p1');
  assert.deepEqual(r.countByTrace(), new Map());
});

test('two paths of one key on the same inode are one owner with an alias', () => {
  const m = new FakeMap();
  const r = new WatchRegistry(m);
  r.set('k', [
    { ino: 1n, dev: 1, ...owner('t', 1), path: '/etc/secret' },
    { ino: 1n, dev: 1, ...owner('t', 1), path: '/etc/secret-hardlink' },
  ]);
  const id = [...m.entries.values()][0].watchId;
  const owners = r.owners(id, 1);
  assert.equal(owners.length, 1);
  assert.equal(owners[0].path, '/etc/secret');
  assert.deepEqual(owners[0].aliases, ['/etc/secret-hardlink']);
});

test('a refused watch (map full) is retried by the next set; stale entries still go', () => {
  const m = new FakeMap();
  let room = 1;
  const watch = m.watch.bind(m);
  m.watch = (es: WatchEntry[]) => {
    if (m.entries.size + es.length > room) throw new Error('map full');
    watch(es);
  };
  const r = new WatchRegistry(m);
  const a = { ino: 1n, dev: 9 };
  const b = { ino: 2n, dev: 9 };
  r.set('k', [{ ...a, ...owner('t', 1) }]);
  assert.equal(m.entries.size, 1);
  // a swap a -> b with no room for both: b refused, a (no longer wanted) still removed
  assert.throws(() => r.set('k', [{ ...b, ...owner('t', 1) }]), /map full/);
  assert.equal(m.entries.size, 0);
  room = 2;
  r.set('k', [{ ...b, ...owner('t', 1) }]);
  assert.deepEqual([...m.entries.keys()], ['9:2']);
});

test('deny and kill masks: the union of the accesses their owners want stopped, narrowed when such an owner goes', () => {
  const m = new FakeMap();
  const r = new WatchRegistry(m);
  const f = { ino: 5n, dev: 9 };
  r.set('a/audit|u|c', [{ ...f, ...owner('audit', 7) }]);
  r.set('a/deny|u|c', [{ ...f, ...owner('deny', 2), action: 'deny' as const }]);
  let e = [...m.entries.values()][0];
  assert.deepEqual([e.access, e.deny, e.kill], [7, 2, 0]);
  assert.equal(r.owners(e.watchId, 2).find((o) => o.trace!.name === 'deny')!.action, 'deny');
  // the same masks again: nothing rewritten in the kernel
  let writes = 0;
  const watch = m.watch.bind(m);
  m.watch = (es) => {
    writes++;
    watch(es);
  };
  r.set('a/deny|u|c', [{ ...f, ...owner('deny', 2), action: 'deny' as const }]);
  assert.equal(writes, 0);
  r.remove('a/deny|u|c');
  e = [...m.entries.values()][0];
  assert.deepEqual([e.access, e.deny ?? 0], [7, 0], 'audit again once the deny owner is gone');
  assert.equal(writes, 1);
  r.set('a/kill|u|c', [{ ...f, ...owner('kill', 1), action: 'kill' as const }]);
  e = [...m.entries.values()][0];
  assert.deepEqual([e.access, e.deny ?? 0, e.kill], [7, 0, 1]);
});

test('scoped owners: their stops go to their pid namespace, never to the inode; audit owners add none', () => {
  const m = new FakeMap();
  const r = new WatchRegistry(m);
  const f = { ino: 5n, dev: 9 };
  // two namespaces' pods share a host file: each trace stops its own pod only
  r.set('a/t1|u1|c', [{ ...f, ...owner('t1', 1), action: 'kill' as const, scope: 4026532001 }]);
  r.set('b/t2|u2|c', [{ ...f, ...owner('t2', 1), intent: 'deny' as const, scope: 4026532002 }]);
  r.set('c/t3|u3|c', [{ ...f, ...owner('t3', 3), scope: 4026532003 }]);
  const e = [...m.entries.values()][0];
  assert.deepEqual({ access: e.access, deny: e.deny, kill: e.kill, would: e.would }, { access: 3, deny: 0, kill: 0, would: 0 }, 'nothing unscoped');
  assert.deepEqual(e.scopes, [
    { pidNs: 4026532001, deny: 0, kill: 1, would: 0 },
    { pidNs: 4026532002, deny: 0, kill: 0, would: 1 },
  ]);
  // an unscoped owner (hive trace) stops everyone, as before
  r.set('host', [{ ...f, path: '/x', access: 2, action: 'deny' as const }]);
  assert.deepEqual([...m.entries.values()][0].deny, 2);
  r.remove('host');
  // a changed scope rewrites the entry; the last scoped owner gone, no scopes left
  r.set('a/t1|u1|c', [{ ...f, ...owner('t1', 1), action: 'kill' as const, scope: 4026532009 }]);
  assert.deepEqual([...m.entries.values()][0].scopes?.map((s) => s.pidNs).sort(), [4026532002, 4026532009]);
  r.remove('a/t1|u1|c');
  r.remove('b/t2|u2|c');
  assert.equal([...m.entries.values()][0].scopes, undefined);
});
