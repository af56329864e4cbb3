// Against a real containerd + runc (the harness starts a private one), with
// pods and containers made through CRI as the kubelet makes them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { ContainerdClient } from './client';
import { resolvePattern } from '../resolve/pattern';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { WatchKeeper } from '../fileaccess/watch-keeper';
import { log } from '../util/log';
import { ACCESS_ALL, RawFileEvent } from '../fileaccess/layout';
import { formatDev, kernelDevFromStat } from '../sys/devnum';
import { kernelSkip, settle, waitFor } from '../testing/kernel';
import { assertOneLineError, hive, ready, startTrace } from '../testing/cli';
import net from 'node:net';
import path from 'node:path';
import { tmpDir } from '../testing/kernel';

const skip = containerdSkip() || kernelSkip();

describe('real containerd', { skip }, () => {
  let h: ContainerdHarness;
  let client: ContainerdClient;
  let podA: Pod;
  let podB: Pod;

  before(async () => {
    h = await ContainerdHarness.start();
    client = new ContainerdClient(h.socket);
    podA = await h.runPod('web', ['app', 'side']);
    podB = await h.runPod('db', ['app']);
  });
  after(async () => {
    client?.close();
    await h?.stop();
  });

  test("container by id (the kubelet's name label), pid by container id; ListPids; CRI agrees", async () => {
    const app = podA.containers[0];
    const info = await client.getContainer(app.id);
    assert.equal(info.id, app.id);
    assert.equal(info.name, 'app');
    assert.equal(await client.taskPid(app.id), app.pid);
    assert.equal(await h.cri.containerPid(app.id), app.pid);
    assert.ok((await client.listPids(app.id)).includes(app.pid));
    assert.equal(await client.taskPid('no-such-container'), null);
  });

  test('the same path in two containers is two inodes; only the watched one reports', async () => {
    const a = podA.containers[0];
    const b = podB.containers[0];
    const ra = resolvePattern(`/proc/${a.pid}/root`, '/etc/secret');
    const rb = resolvePattern(`/proc/${b.pid}/root`, '/etc/secret');
    const fa = ra.files[0];
    const fb = rb.files[0];
    assert.notDeepEqual([fa.ino, fa.dev], [fb.ino, fb.dev]);
    // the host's view of the file is the container's inode and device
    const st = fs.statSync(`/proc/${a.pid}/root/etc/secret`, { bigint: true });
    assert.deepEqual([fa.ino, fa.dev], [st.ino, kernelDevFromStat(st.dev)]);

    const { monitor } = FileAccessMonitor.open({});
    const events: RawFileEvent[] = [];
    try {
      monitor.onEvents((b) => events.push(...b), 20);
      monitor.watch([{ ino: fa.ino, dev: fa.dev, watchId: 1, access: ACCESS_ALL }]);
      assert.equal((await h.cri.execSync(b.id, ['cat', '/etc/secret'])).exitCode, 0);
      assert.equal((await h.cri.execSync(a.id, ['cat', '/etc/secret'])).exitCode, 0);
      await waitFor(() => events.some((e) => e.comm === 'cat'), 5000, 'the read in container a');
      await settle();
      const cats = events.filter((e) => e.comm === 'cat');
      assert.equal(cats.length, 1, 'one read, from container a only');
      assert.equal(cats[0].ino, fa.ino);
      assert.equal(cats[0].dev, fa.dev);
    } finally {
      monitor.close();
    }
  });

  test('a symlink that points outside resolves inside the container, never to the host file', async () => {
    const a = podA.containers[0];
    const host = fs.statSync('/etc/shadow', { bigint: true });
    const res = ['/etc/shadow-escape', '/etc/shadow-abs'].map((p) => resolvePattern(`/proc/${a.pid}/root`, p));
    for (const r of res) {
      assert.equal(r.state, 'pending', r.pattern); // the image has no /etc/shadow
      for (const f of r.files) assert.notDeepEqual([f.ino, f.dev], [host.ino, kernelDevFromStat(host.dev)]);
    }
  });

  test('a file rotated inside the container root is followed (rename over, in the container)', async () => {
    const app = podA.containers[0];
    const t = startTrace(['--containerd-socket', h.socket, '--container', app.id, '/etc/rotated']);
    const root = `/proc/${app.pid}/root`;
    try {
      assert.equal((await h.cri.execSync(app.id, ['sh', '-c', 'echo v1 > /etc/rotated'])).exitCode, 0);
      await ready(t);
      const oldIno = fs.statSync(`${root}/etc/rotated`).ino;
      assert.equal((await h.cri.execSync(app.id, ['sh', '-c', 'echo v2 > /etc/rotated.new && mv /etc/rotated.new /etc/rotated'])).exitCode, 0);
      const newIno = fs.statSync(`${root}/etc/rotated`).ino;
      assert.notEqual(newIno, oldIno);
      await waitFor(() => t.logs.some((l) => l.msg === 'watch re-resolved' && (l.newIno as string[])?.includes(String(newIno))), 1000, 'the re-resolution');
      await h.cri.execSync(app.id, ['cat', '/etc/rotated']);
      await waitFor(() => t.stdout.some((l) => l.includes('"comm":"cat"')), 5000, 'the read of the new file');
      const ev = JSON.parse(t.stdout.find((l) => l.includes('"comm":"cat"'))!);
      assert.equal(ev.inode, newIno);
      assert.equal(ev.path, '/etc/rotated');
      assert.deepEqual(ev.container, { id: app.id, name: 'app', image: IMAGE });
    } finally {
      t.child.kill('SIGINT');
      await t.exited;
    }
  });

  test('a symlink the workload swaps to point at a host path is never followed out of the root', async () => {
    const app = podB.containers[0];
    const root = `/proc/${app.pid}/root`;
    const hostShadow = fs.statSync('/etc/shadow', { bigint: true });
    const hostRef = { ino: hostShadow.ino, dev: kernelDevFromStat(hostShadow.dev) };
    assert.equal((await h.cri.execSync(app.id, ['sh', '-c', 'mkdir -p /etc/v1 && echo ok > /etc/v1/shadow && ln -sfn /etc/v1 /etc/cur'])).exitCode, 0);
    const { monitor } = FileAccessMonitor.open({});
    const keeper = new WatchKeeper(monitor, { log: log.child({ module: 'test' }), rescanMs: 0 });
    try {
      const [st] = keeper.set('k', { root, patterns: ['/etc/cur/shadow'], access: ACCESS_ALL });
      assert.equal(st.state, 'ok');
      const inside = fs.statSync(`${root}/etc/v1/shadow`, { bigint: true });
      assert.ok(monitor.lookup({ ino: inside.ino, dev: kernelDevFromStat(inside.dev) }));
      // the workload retargets the link at the host's /etc, by '..' and by an absolute path
      for (const target of ['../../../../../../etc', '/../../../../etc']) {
        assert.equal((await h.cri.execSync(app.id, ['sh', '-c', `ln -s ${target} /etc/cur.tmp && mv -T /etc/cur.tmp /etc/cur`])).exitCode, 0);
        await waitFor(() => keeper.status('k')[0].state !== 'ok', 1000, `the swap to ${target} noticed`);
        assert.equal(keeper.status('k')[0].state, 'pending', 'resolves to the container /etc, which has no shadow');
        assert.equal(monitor.lookup(hostRef), undefined, "the host's /etc/shadow is never watched");
        assert.equal(monitor.lookup({ ino: inside.ino, dev: kernelDevFromStat(inside.dev) }), undefined, 'the old file released');
        assert.equal(keeper.registry.inodes, 0);
        // back to a file inside, so the next swap is a change again
        assert.equal((await h.cri.execSync(app.id, ['sh', '-c', 'ln -s /etc/v1 /etc/cur.tmp && mv -T /etc/cur.tmp /etc/cur'])).exitCode, 0);
        await waitFor(() => keeper.status('k')[0].state === 'ok', 1000, 'the link back inside');
      }
    } finally {
      keeper.close();
      monitor.close();
    }
  });

  test('hive trace --pid audits inside that process root and names its container', async () => {
    const app = podB.containers[0];
    const t = startTrace(['--containerd-socket', h.socket, '--pid', String(app.pid), '/etc/secret']);
    try {
      const r = await ready(t);
      assert.equal(r.root, `/proc/${app.pid}/root`);
      await h.cri.execSync(app.id, ['cat', '/etc/secret']);
      await waitFor(() => t.stdout.some((l) => l.includes('"comm":"cat"')), 5000, 'an event');
      const ev = JSON.parse(t.stdout.find((l) => l.includes('"comm":"cat"'))!);
      assert.deepEqual(ev.container, { id: app.id, name: 'app' });
    } finally {
      t.child.kill('SIGINT');
      await t.exited;
    }
  });

  test('hive trace --cri-socket finds the container through CRI, as for CRI-O', async () => {
    const app = podA.containers[0];
    const t = startTrace(['--cri-socket', h.socket, '--container', `cri-o://${app.id}`, '/etc/secret']);
    try {
      const r = await ready(t);
      assert.equal(r.root, `/proc/${app.pid}/root`);
      assert.deepEqual(r.container, { id: app.id, name: 'app' });
      await h.cri.execSync(app.id, ['cat', '/etc/secret']);
      await waitFor(() => t.stdout.some((l) => l.includes('"comm":"cat"')), 5000, 'an event');
      assert.deepEqual(JSON.parse(t.stdout.find((l) => l.includes('"comm":"cat"'))!).container, { id: app.id, name: 'app' });
    } finally {
      t.child.kill('SIGINT');
      await t.exited;
    }
    assertOneLineError(await hive(['trace', '--cri-socket', h.socket, '--container', 'nope', '/etc/secret']), /container nope not found by the CRI runtime/);
  });

  test('hive trace --container: bad input and unknown containers get one line and exit 2', async () => {
    const app = podB.containers[0];
    const sock = ['--containerd-socket', h.socket];
    assertOneLineError(await hive(['trace', ...sock, '--container', 'nope', '/etc/secret']), /container nope not found in containerd \(namespace k8s\.io\)/);
    assertOneLineError(await hive(['trace', ...sock, '--container', 'cri-o://abc', '/etc/secret']), /not a containerd container \(runtime 'cri-o'; use --cri-socket for other runtimes\)/);
    assertOneLineError(await hive(['trace', ...sock, '--container', app.id, 'etc/secret']), /etc\/secret: relative path/);
    assertOneLineError(await hive(['trace', ...sock, '--container', app.id, '/etc/../etc/secret']), /'\.\.' component/);
    assertOneLineError(await hive(['trace', ...sock, '--container', app.id, '/etc/missing']), /\/etc\/missing: not found \(inside the root of pid \d+\)/);
    assertOneLineError(await hive(['trace', '--pid', '4194303', '/etc/secret']), /no process 4194303 in \/proc/);
  });

  test('hive trace --container: events carry the container; restarts and a containerd restart are followed', async () => {
    const side = podA.containers[1];
    const t = startTrace(['--containerd-socket', h.socket, '--container', `containerd://${side.id}`, '/etc/secret', '/etc/secret-hardlink']);
    try {
      const r = await ready(t);
      assert.equal(r.watches, 1, 'a hard link is the same inode: one watch');
      assert.deepEqual(r.container, { id: side.id, name: 'side', image: IMAGE });
      await h.cri.execSync(side.id, ['cat', '/etc/secret-hardlink']);
      await waitFor(() => t.stdout.some((l) => l.includes('"comm":"cat"')), 5000, 'an event from the container');
      const ev = JSON.parse(t.stdout.find((l) => l.includes('"comm":"cat"'))!);
      assert.deepEqual(ev.container, { id: side.id, name: 'side', image: IMAGE });
      assert.equal(ev.path, '/etc/secret');
      assert.deepEqual(ev.aliases, ['/etc/secret-hardlink']);
      const firstDev = ev.dev;

      // containerd goes away and comes back: the agent's event stream reconnects
      await h.killContainerd();
      await h.launch();

      // restart the task: new init pid, new overlay mount (new device)
      h.ctr('tasks', 'kill', '-s', 'SIGKILL', side.id);
      await waitFor(() => !fs.existsSync(`/proc/${side.pid}`), 5000, 'the old task to die');
      // CRI deletes the dead task itself; remove it here if it has not yet
      for (let i = 0; ; i++) {
        try {
          h.ctr('tasks', 'start', '-d', '--null-io', side.id);
          break;
        } catch (e) {
          if (i > 50) throw e;
          try {
            h.ctr('tasks', 'rm', side.id);
          } catch {
            // already deleted
          }
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      await waitFor(() => t.logs.some((l) => l.msg === 'container restarted; watches re-resolved'), 10000, 're-resolution').catch((e) => {
        throw new Error(`${(e as Error).message}; hive trace logged: ${JSON.stringify(t.logs.filter((l) => l.msg !== 'ready'))}`);
      });
      const re = t.logs.find((l) => l.msg === 'container restarted; watches re-resolved')!;
      assert.notEqual(re.pid, side.pid);
      assert.equal(re.watches, 1);
      assert.equal(re.kernelWatches, 1, 'stale entries removed');
      const before = t.stdout.length;
      h.ctr('tasks', 'exec', '--exec-id', 'reader', side.id, '/bin/cat', '/etc/secret');
      await waitFor(() => t.stdout.slice(before).some((l) => l.includes('"comm":"cat"')), 5000, 'an event from the restarted container');
      const ev2 = JSON.parse(t.stdout.slice(before).find((l) => l.includes('"comm":"cat"'))!);
      // The new overlay mount's device is whatever the kernel hands out; anonymous
      // device numbers are reused, so it is often the old one: what matters is that
      // the watch follows the file as the new root resolves it.
      const st = fs.statSync(`/proc/${re.pid}/root/etc/secret`, { bigint: true });
      assert.equal(BigInt(ev2.inode), st.ino);
      assert.equal(ev2.dev, formatDev(kernelDevFromStat(st.dev)));
      assert.ok(firstDev);
    } finally {
      t.child.kill('SIGINT');
      await t.exited;
    }
  });
});

describe('runtime socket problems', { skip: kernelSkip() }, () => {
  test('a missing socket and a runtime that does not answer are named, exit 2', async () => {
    assertOneLineError(
      await hive(['trace', '--containerd-socket', '/nonexistent/containerd.sock', '--container', 'abc', '/etc/passwd']),
      /containerd socket not found at \/nonexistent\/containerd\.sock \(set --containerd-socket or CONTAINERD_ADDRESS\)/,
    );
    // a socket that accepts connections and never answers
    const dir = tmpDir();
    const sock = path.join(dir, 'silent.sock');
    const server = net.createServer(() => undefined).listen(sock);
    try {
      assertOneLineError(
        await hive(['trace', '--containerd-socket', sock, '--container', 'abc', '/etc/passwd']),
        /containerd at .*silent\.sock does not answer/,
      );
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
