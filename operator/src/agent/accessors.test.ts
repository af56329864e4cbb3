import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Accessors, podRefByUid, podUidOfCgroup } from './accessors';

test('a pod uid is read from both cgroup drivers\' paths, and from no other', () => {
  assert.equal(podUidOfCgroup('12:cpu,cpuacct:/kubepods/besteffort/pod6f1e0d2c-3b4a-4c5d-8e9f-0a1b2c3d4e5f/abc123\n'), '6f1e0d2c-3b4a-4c5d-8e9f-0a1b2c3d4e5f');
  assert.equal(podUidOfCgroup('0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6f1e0d2c_3b4a_4c5d_8e9f_0a1b2c3d4e5f.slice/cri-containerd-1.scope\n'), '6f1e0d2c-3b4a-4c5d-8e9f-0a1b2c3d4e5f');
  assert.equal(podUidOfCgroup('12:cpu:/system.slice/kubelet.service\n0::/\n'), undefined);
  // a uid-shaped name outside kubepods (a workload's own cgroup name) is not a pod's
  assert.equal(podUidOfCgroup('12:cpu:/user/pod6f1e0d2c-3b4a-4c5d-8e9f-0a1b2c3d4e5f\n'), undefined);
});

test('the accessor is told by the kernel\'s scope, the pid namespace and the cgroup, never by a name', () => {
  const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-accessors-'));
  try {
    const pidDir = (pid: number, ns: number, cgroup?: string) => {
      fs.mkdirSync(path.join(proc, String(pid), 'ns'), { recursive: true });
      fs.symlinkSync(`pid:[${ns}]`, path.join(proc, String(pid), 'ns', 'pid'));
      if (cgroup !== undefined) fs.writeFileSync(path.join(proc, String(pid), 'cgroup'), cgroup);
    };
    pidDir(1, 100, '12:cpu:/\n');
    pidDir(50, 100, '12:cpu:/system.slice/kubelet.service\n'); // the kubelet
    pidDir(60, 100, '12:cpu:/kubepods/besteffort/pod00000000-0000-0000-0000-00000000000b/c2\n'); // a hostPID pod's process
    pidDir(70, 300, '12:cpu:/kubepods/pod00000000-0000-0000-0000-00000000000c/c3\n'); // a pod nobody traces
    const web = { namespace: 'a', name: 'web', uid: '00000000-0000-0000-0000-00000000000a' };
    const pods = [web, { namespace: 'b', name: 'host-agent', uid: '00000000-0000-0000-0000-00000000000b' }, { namespace: 'c', name: 'scanner', uid: '00000000-0000-0000-0000-00000000000c' }].map((p) => ({ metadata: p }));
    const acc = new Accessors({ hostProc: proc, podByUid: (uid) => podRefByUid(pods, uid) });
    acc.scope(200, web);
    const lin = (pidNs: number) => ({ exe: '/usr/bin/kubelet', pidNs, ancestors: [] });
    // the kernel matched web's scope (a task nested in its namespace): web, whatever the process says
    assert.deepEqual(acc.of(9999, lin(201), 200), { kind: 'pod', pod: web });
    // web's own namespace, no scope (an audit trace)
    assert.deepEqual(acc.of(9999, lin(200), 0), { kind: 'pod', pod: web });
    // the node's kubelet: the host's namespace, no pod cgroup
    assert.deepEqual(acc.of(50, lin(100), 0), { kind: 'host' });
    // a hostPID pod's process: the host's namespace, but its cgroup names its pod
    assert.deepEqual(acc.of(60, lin(100), 0), { kind: 'pod', pod: { namespace: 'b', name: 'host-agent', uid: '00000000-0000-0000-0000-00000000000b' } });
    assert.deepEqual(acc.of(70, lin(300), 0), { kind: 'pod', pod: { namespace: 'c', name: 'scanner', uid: '00000000-0000-0000-0000-00000000000c' } });
    // gone before it was read: another process of its pid namespace (its container's init) names the pod
    pidDir(71, 600, '12:cpu:/kubepods/pod00000000-0000-0000-0000-00000000000c/c4\n');
    assert.deepEqual(acc.of(85, lin(600), 0), { kind: 'pod', pod: { namespace: 'c', name: 'scanner', uid: '00000000-0000-0000-0000-00000000000c' } });
    fs.rmSync(path.join(proc, '71'), { recursive: true });
    assert.deepEqual(acc.of(86, lin(600), 0), { kind: 'pod', pod: { namespace: 'c', name: 'scanner', uid: '00000000-0000-0000-0000-00000000000c' } }, 'kept for its namespace');
    acc.podGone('00000000-0000-0000-0000-00000000000c');
    assert.deepEqual(acc.of(87, lin(600), 0), { kind: 'container' }, 'forgotten when the pod goes');
    // gone before it was read, nothing else in its namespace: by its namespace alone
    assert.deepEqual(acc.of(80, lin(400), 0), { kind: 'container' });
    assert.deepEqual(acc.of(81, lin(100), 0), { kind: 'host' });
    // no process record and no /proc entry: nothing is claimed
    assert.equal(acc.of(82, undefined, 0), undefined);
    // a scope released: its namespace is no longer web's
    acc.scope(200, undefined);
    assert.deepEqual(acc.of(83, lin(200), 0), { kind: 'container' });
  } finally {
    fs.rmSync(proc, { recursive: true, force: true });
  }
});
