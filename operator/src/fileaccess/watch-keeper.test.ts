// The watch keeper with a recording map (no kernel): what it puts in the map
// when a container's root changes hands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WatchKeeper } from './watch-keeper';
import { procRootIdentity } from '../agent/root-identity';
import { log } from '../util/log';
import type { WatchEntry } from './monitor';
import type { InodeRef } from './monitor';

test("a reused pid never turns a trace's paths to another process's root: re-resolution stops, the old inode goes (SECURITY-REVIEW M4)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-keeper-root-'));
  const kernel = new Map<string, WatchEntry>();
  const map = {
    watch: (es: WatchEntry[]) => es.forEach((e) => kernel.set(`${e.dev}:${e.ino}`, e)),
    unwatch: (rs: InodeRef[]) => rs.filter((r) => kernel.delete(`${r.dev}:${r.ino}`)).length,
  };
  const keeper = new WatchKeeper(map, { log: log.child({ module: 'test' }), rescanMs: 0, setRecheckMs: 0, rootIdentity: procRootIdentity });
  try {
    // <proc>/4242: the container's init (started at tick 1000), its root a directory with the secret
    for (const r of ['container', 'host']) {
      fs.mkdirSync(path.join(dir, r, 'etc'), { recursive: true });
      fs.writeFileSync(path.join(dir, r, 'etc/shadow'), r);
    }
    fs.mkdirSync(path.join(dir, 'proc/4242'), { recursive: true });
    const stat = (start: number) => `4242 (sh) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 0 0\n`;
    fs.writeFileSync(path.join(dir, 'proc/4242/stat'), stat(1000));
    fs.symlinkSync(path.join(dir, 'container'), path.join(dir, 'proc/4242/root'));
    const root = path.join(dir, 'proc/4242/root');
    assert.equal(procRootIdentity(root), '4242:1000');
    const ino = (r: string) => fs.statSync(path.join(dir, r, 'etc/shadow'), { bigint: true }).ino;
    const target = { root, patterns: ['/etc/shadow'], access: 1, action: 'kill' as const };
    keeper.set('ns/t|pod|app', target);
    assert.deepEqual([...kernel.values()].map((e) => e.ino), [ino('container')]);

    // the container's init exits; its pid now names a host process (root: the host's files)
    fs.writeFileSync(path.join(dir, 'proc/4242/stat'), stat(99_000));
    fs.unlinkSync(root);
    fs.symlinkSync(path.join(dir, 'host'), root);
    keeper.recheck('periodic');
    assert.deepEqual([...kernel.values()].map((e) => e.ino), [], "nothing of the host's is watched with the trace's kill");
    const [st] = keeper.status('ns/t|pod|app');
    assert.equal(st.state, 'error');
    assert.match(st.reason!, /the container exited: its root is gone/);
    keeper.recheck('periodic');
    assert.equal(kernel.size, 0, 'and stays so');

    // a reconcile that found the pod's new container under that same pid (its start time
    // is new: the reconciler checked the pid is that container's) resolves afresh there
    fs.mkdirSync(path.join(dir, 'restarted/etc'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'restarted/etc/shadow'), 'restarted');
    fs.writeFileSync(path.join(dir, 'proc/4242/stat'), stat(120_000));
    fs.unlinkSync(root);
    fs.symlinkSync(path.join(dir, 'restarted'), root);
    keeper.set('ns/t|pod|app', target);
    assert.deepEqual([...kernel.values()].map((e) => e.ino), [ino('restarted')]);
    assert.equal(keeper.status('ns/t|pod|app')[0].state, 'ok');
    // a root that is no process's (hive trace's "/") has no identity: always itself
    assert.equal(procRootIdentity('/'), undefined);
    assert.equal(procRootIdentity(path.join(dir, 'proc/999/root')), 'gone');
  } finally {
    keeper.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
