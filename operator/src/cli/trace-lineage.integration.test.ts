// `hive trace --container` against a real containerd (the harness) and the
// running kernel: a shell chain exec'd into the container names the
// executables as the container sees them (busybox's applets are symlinks to
// /bin/busybox), the chain ends at the container's pid namespace, and the
// container carries its image.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { Running, ready, startTrace } from '../testing/cli';
import { kernelSkip, waitFor } from '../testing/kernel';

const skip = containerdSkip() || kernelSkip();

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('hive trace: process lineage in a real container', { skip }, () => {
  let h: ContainerdHarness;
  let pod: Pod;
  let tr: Running | undefined;

  before(async () => {
    h = await ContainerdHarness.start();
    pod = await h.runPod('lineage', ['app']);
  });
  after(async () => {
    tr?.child.kill('SIGTERM');
    if (tr) await tr.exited;
    await h?.stop();
  });

  test('sh -c under sh -c in the container: cat <- sh <- sh, each /bin/busybox, no host process in the chain', async () => {
    const app = pod.containers[0];
    tr = startTrace(['--containerd-socket', h.socket, '--container', app.id, '/etc/secret']);
    await ready(tr);
    const r = await h.cri.execSync(app.id, ['sh', '-c', `sh -c 'cat /etc/secret; true'; true`]);
    assert.equal(r.exitCode, 0, r.stderr);
    const cat = () => tr!.stdout.map((l) => JSON.parse(l)).find((e: any) => e.process.comm === 'cat');
    await waitFor(() => cat() !== undefined, 5000, "the container's cat event");
    const e = cat();
    assert.equal(e.process.exe, '/bin/busybox', JSON.stringify(e.process));
    assert.deepEqual(e.process.ancestors.map((a: any) => [a.comm, a.exe]), [['sh', '/bin/busybox'], ['sh', '/bin/busybox']], JSON.stringify(e.process));
    assert.equal(e.process.ancestors[0].pid, e.process.ppid);
    assert.deepEqual(e.container, { id: app.id, name: 'app', image: IMAGE });
  });
});
