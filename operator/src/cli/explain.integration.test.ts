// `hive explain --container/--pid` against a real containerd (the harness):
// the image's symlinks that point outside the root are shown confined to the
// container's root, the identity is the container's overlay inode (what the
// kernel map would get), the mount is the container's overlay, with the layer
// a file comes from (image or written in the container), and the hard link is
// the same inode.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { assertOneLineError, hive } from '../testing/cli';
import { formatDev, kernelDevFromStat } from '../sys/devnum';

const skip = containerdSkip();

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('hive explain in a real container', { skip }, () => {
  let h: ContainerdHarness;
  let pod: Pod;

  before(async () => {
    h = await ContainerdHarness.start();
    pod = await h.runPod('explain', ['app']);
    // a file the container writes: it lives in the overlay's upper layer
    assert.equal((await h.cri.execSync(pod.containers[0].id, ['sh', '-c', 'echo new > /etc/written'])).exitCode, 0);
  });
  after(async () => {
    await h?.stop();
  });

  test('--container: escapes confined to the root, overlay identity and layers, hard link', async () => {
    const app = pod.containers[0];
    const r = await hive(['explain', '--json', '--containerd-socket', h.socket, '--container', `containerd://${app.id}`, '/etc/secret', '/etc/secret-hardlink', '/etc/shadow-escape', '/etc/shadow-abs', '/etc/written', '/etc/*secret*']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.root, `/proc/${app.pid}/root`);
    assert.deepEqual(doc.container, { id: app.id, name: 'app', image: IMAGE });
    const [secret, hard, escape, abs, written, glob] = doc.paths as any[];
    const st = fs.statSync(`/proc/${app.pid}/root/etc/secret`, { bigint: true });
    const f = secret.files[0];
    assert.equal(f.ino, st.ino.toString());
    assert.equal(f.dev, formatDev(kernelDevFromStat(st.dev)));
    assert.equal(hard.files[0].ino, f.ino, 'a hard link is the same inode');
    assert.equal(f.mount.mountPoint, '/');
    assert.equal(f.mount.fsType, 'overlay');
    assert.equal(f.mount.devMismatch, undefined);
    assert.equal(f.mount.overlay.layer, 'lower', JSON.stringify(f.mount));
    assert.equal(written.files[0].mount.overlay.layer, 'upper', JSON.stringify(written.files[0].mount));
    // /../../../../../../../etc/shadow and /etc/shadow: the container's /etc/shadow, which the image lacks
    for (const e of [escape, abs]) {
      assert.equal(e.state, 'pending', JSON.stringify(e));
      assert.equal(e.files.length, 0, 'the host /etc/shadow is never named');
      assert.deepEqual(e.waitsFor, { dir: '/etc', name: 'shadow' });
      assert.equal(e.hops[0].absolute, true);
    }
    assert.equal(escape.hops[0].climbsPastRoot, true);
    assert.deepEqual(glob.files.map((x: any) => x.path), ['/etc/secret', '/etc/secret-hardlink']);

    const text = await hive(['explain', '--containerd-socket', h.socket, '--container', app.id, '/etc/shadow-escape', '/etc/secret']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^root \/proc\/\d+\/root \(pid \d+, container app [0-9a-f]{12}\)/);
    assert.match(text.stdout, /hop 1 {2}\/etc\/shadow-escape -> \/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow \(confined: '\.\.' climbs past the root, stopped at the root/);
    assert.match(text.stdout, /not resolved: missing: no 'shadow' in \/etc/);
    assert.match(text.stdout, /mount {2}overlay overlay on \/, lower layer 0 \(from the image\)/);
  });

  test('--pid: the same root; a container path bind-mounted from the host shows its own mount', async () => {
    const app = pod.containers[0];
    const r = await hive(['explain', '--json', '--pid', String(app.pid), '/etc/secret', '/etc/hosts']);
    assert.equal(r.code, 0, r.stderr);
    const [secret, hosts] = JSON.parse(r.stdout).paths as any[];
    assert.equal(secret.files[0].ino, fs.statSync(`/proc/${app.pid}/root/etc/secret`, { bigint: true }).ino.toString());
    assert.equal(hosts.state, 'ok');
    assert.equal(hosts.files[0].mount.mountPoint, '/etc/hosts', JSON.stringify(hosts.files[0].mount));
    assert.notEqual(hosts.files[0].mount.fsType, 'overlay');
  });

  test('bad input and unknown containers: one line, exit 2', async () => {
    assertOneLineError(await hive(['explain', '--containerd-socket', h.socket, '--container', 'nope', '/etc/secret']), /^hive explain: container nope not found in containerd \(namespace k8s\.io\)$/);
    const r = await hive(['explain', '--containerd-socket', h.socket, '--container', pod.containers[0].id, '/etc/../etc/secret', '/etc/secret']);
    assertOneLineError(r, /^hive explain: \/etc\/\.\.\/etc\/secret: invalid path: path contains a '\.\.' component$/);
    assert.match(r.stdout, /\/etc\/secret\n {2}final {2}\/etc\/secret\n/);
  });
});
