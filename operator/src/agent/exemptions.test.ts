// The node's exemptions, read from this machine's real /proc where that can be
// read without privileges (our own process, our own mount namespace), and
// from a small /proc-shaped tree where the host's pid 1 is needed (its root
// and namespace links are not readable inside every sandbox).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { commMatches, DEFAULT_EXEMPT_COMMS, DEFAULT_EXEMPT_EXES, exemptExecutables, hostMountNs, inPodCgroup } from './exemptions';
import { kernelDevFromStat } from '../sys/devnum';
import { rootSkip, unitOnly } from '../testing/require';
import { waitFor } from '../testing/kernel';

const inode = (p: string) => {
  const st = fs.statSync(p, { bigint: true });
  return { ino: st.ino, dev: kernelDevFromStat(st.dev) };
};

describe('exemptions from the real /proc', () => {
  test('this process is found by its comm, with the inode of the file it runs', () => {
    const comm = fs.readFileSync('/proc/self/comm', 'utf8').trim();
    const { executables } = exemptExecutables('/proc', [], [comm]);
    const mine = executables.find((e) => e.pids.includes(process.pid));
    assert.ok(mine, `pid ${process.pid} (${comm}) among ${JSON.stringify(executables.map((e) => e.pids))}`);
    assert.deepEqual({ ino: mine.ino, dev: mine.dev }, inode(process.execPath));
    assert.equal(mine.from, 'process');
    assert.equal(mine.path, fs.realpathSync(process.execPath));
  });

  test('a comm that nothing runs finds nothing', () => {
    assert.deepEqual(exemptExecutables('/proc', [], ['no-such-comm-x']).executables, []);
  });

  test("the mount namespace is the number in the ns link (a /proc whose pid 1 is us)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-exempt-'));
    try {
      fs.symlinkSync('/proc/self', path.join(dir, '1'));
      assert.equal(hostMountNs(dir), Number(fs.statSync('/proc/self/ns/mnt').ino));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("where pid 1's namespaces cannot be read, the host's are the kernel's kthreadd's (pid 2), never a process found by its name", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-exempt-ns-'));
  try {
    fs.symlinkSync('/proc/1', path.join(dir, '1'));
    fs.symlinkSync('/proc/2', path.join(dir, '2'));
    // the name the old fallback trusted (SECURITY-REVIEW H1): a process calling itself containerd
    fs.mkdirSync(path.join(dir, '77/ns'), { recursive: true });
    fs.writeFileSync(path.join(dir, '77/comm'), 'containerd\n');
    fs.symlinkSync('mnt:[4026532999]', path.join(dir, '77/ns/mnt'));
    let pid1: number | undefined;
    try {
      pid1 = Number(/\d+/.exec(fs.readlinkSync('/proc/1/ns/mnt'))![0]);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'EACCES');
    }
    const kthreadd = Number(/\d+/.exec(fs.readlinkSync('/proc/2/ns/mnt'))![0]);
    // readable (most hosts): pid 1's; not (this CI machine): kthreadd's
    assert.equal(hostMountNs(dir), pid1 ?? kthreadd);
    assert.notEqual(hostMountNs(dir), 4026532999);
    if (pid1 === undefined) {
      // a pid 2 that is not a kernel thread (its flags lack PF_KTHREAD) is not the host
      fs.unlinkSync(path.join(dir, '2'));
      fs.mkdirSync(path.join(dir, '2/ns'), { recursive: true });
      fs.writeFileSync(path.join(dir, '2/stat'), '2 (kthreadd) S 0 0 0 0 -1 4194560 0 0\n');
      fs.symlinkSync('mnt:[4026532998]', path.join(dir, '2/ns/mnt'));
      assert.throws(() => hostMountNs(dir), /cannot read .*1\/ns\/mnt: EACCES.*, and pid 2 is not the kernel's kthreadd to read it from$/);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('a process that names itself kubelet (SECURITY-REVIEW H1, security-poc/poc1)', { skip: unitOnly() || rootSkip('to make a mount namespace (unshare -m)') }, () => {
  /** A shell that renames itself `kubelet` and waits, in a mount namespace of its own or not. */
  const impostor = async (ownMountNs: boolean) => {
    const cmd = ['sh', '-c', 'printf kubelet > /proc/$$/comm; read x'];
    const child = spawn(ownMountNs ? 'unshare' : cmd[0], ownMountNs ? ['-m', ...cmd] : cmd.slice(1), { stdio: ['pipe', 'ignore', 'inherit'] });
    await waitFor(() => {
      try {
        return fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8') === 'kubelet\n';
      } catch {
        return false;
      }
    }, 5000, `pid ${child.pid} named kubelet`);
    return child;
  };

  test("in another mount namespace (a container's): refused, its shell's inode is not exempt", async () => {
    const child = await impostor(true);
    try {
      const r = exemptExecutables('/proc', [], DEFAULT_EXEMPT_COMMS);
      assert.equal(r.executables.filter((e) => e.pids.includes(child.pid!)).length, 0, JSON.stringify(r.executables, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
      const mine = r.refused.find((x) => x.pid === child.pid);
      assert.ok(mine, `pid ${child.pid} among the refused: ${JSON.stringify(r.refused)}`);
      assert.equal(mine.comm, 'kubelet');
      assert.match(mine.reason, /^not in the host's mount namespace \(mnt:\[\d+\]\)$/);
    } finally {
      child.kill();
    }
  });

  test("in the host's mount namespace, in no pod's cgroup, running a host file: the node's own, exempt", async () => {
    const child = await impostor(false);
    try {
      const r = exemptExecutables('/proc', [], DEFAULT_EXEMPT_COMMS);
      const mine = r.executables.find((e) => e.pids.includes(child.pid!));
      assert.ok(mine, `pid ${child.pid} exempt: ${JSON.stringify(r.refused)}`);
      const sh = fs.realpathSync(fs.readlinkSync(`/proc/${child.pid}/exe`));
      assert.deepEqual({ ino: mine.ino, dev: mine.dev, from: mine.from }, { ...inode(sh), from: 'process' });
    } finally {
      child.kill();
    }
  });
});

describe('exemptions from a /proc-shaped tree', () => {
  let proc = '';
  let root = '';
  before(() => {
    proc = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-exempt-'));
    root = path.join(proc, 'host-root');
    fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    fs.mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true });
    fs.writeFileSync(path.join(root, 'usr/bin/kubelet'), '#!/bin/true\n', { mode: 0o755 });
    // an absolute symlink means the host's file, not ours
    fs.symlinkSync('/usr/bin/kubelet', path.join(root, 'usr/local/bin/kubelet'));
    fs.mkdirSync(path.join(root, 'usr/bin/crio'));
    fs.writeFileSync(path.join(root, 'usr/local/bin/containerd-shim-runc-v2'), '');
    fs.writeFileSync(path.join(proc, 'not-in-root'), '');
    fs.mkdirSync(path.join(proc, '1/ns'), { recursive: true });
    fs.symlinkSync(root, path.join(proc, '1/root'));
    fs.symlinkSync('mnt:[4026531841]', path.join(proc, '1/ns/mnt'));
    // A real exe link reads the file's path in the host (readlink) and leads to
    // the file itself (stat). Here it is a symlink to the file's real path P, and
    // "the host's file at P" is a hard link at <root>/P: the same inode.
    const exeLink = (pid: string, file: string, hostHasIt: boolean) => {
      fs.symlinkSync(file, path.join(proc, pid, 'exe'));
      if (!hostHasIt || fs.existsSync(path.join(root, file))) return;
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.linkSync(file, path.join(root, file));
    };
    const kubelet = path.join(root, 'usr/bin/kubelet');
    const shim = path.join(root, 'usr/local/bin/containerd-shim-runc-v2');
    // [pid, comm, mount namespace, cgroup, executable, whether the host's root has it at that path]
    for (const [pid, comm, ns, cgroup, exe, hostHasIt] of [
      ['4242', 'containerd-shim', 4026531841, '0::/system.slice/containerd.service', shim, true],
      ['4243', 'bash', 4026531841, '0::/', kubelet, true],
      ['4244', 'kubelet', 4026531841, '0::/system.slice/kubelet.service', kubelet, true],
      ['4245', 'runc', 4026531841, '0::/', path.join(proc, 'gone'), false],
      // impostors: a container's process; a hostPID pod's; one whose executable is not the host's file at its name
      ['4246', 'kubelet', 4026532999, '0::/', kubelet, true],
      ['4247', 'containerd', 4026531841, '4:pids:/kubepods/besteffort/pod1234/abcd\n0::/kubepods.slice/x', kubelet, true],
      ['4248', 'runc', 4026531841, '0::/', path.join(proc, 'not-in-root'), false],
    ] as const) {
      fs.mkdirSync(path.join(proc, pid, 'ns'), { recursive: true });
      fs.writeFileSync(path.join(proc, pid, 'comm'), `${comm}\n`);
      fs.writeFileSync(path.join(proc, pid, 'cgroup'), `${cgroup}\n`);
      fs.symlinkSync(`mnt:[${ns}]`, path.join(proc, pid, 'ns/mnt'));
      exeLink(pid, exe, hostHasIt);
    }
  });
  after(() => fs.rmSync(proc, { recursive: true, force: true }));

  test('paths resolve inside the host root, missing ones and non-files are skipped with the reason; running processes by comm, only the proven ones', () => {
    // as the agent reads them: the namespace once at start, the executables at every resync
    const r = { mountNs: hostMountNs(proc), ...exemptExecutables(proc, ['/usr/bin/kubelet', '/usr/local/bin/kubelet', '/usr/bin/containerd', '/usr/bin/crio']) };
    assert.equal(r.mountNs, 4026531841);
    assert.deepEqual(r.skipped, [
      { path: '/usr/bin/containerd', reason: 'no such file' },
      { path: '/usr/bin/crio', reason: 'not a regular file' },
    ]);
    const kubelet = inode(path.join(root, 'usr/bin/kubelet'));
    const shimPath = path.join(root, 'usr/local/bin/containerd-shim-runc-v2');
    const shim = inode(shimPath);
    const byKey = new Map(r.executables.map((e) => [`${e.dev}:${e.ino}`, e]));
    assert.equal(r.executables.length, 2, JSON.stringify(r.executables, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
    // the kubelet's path, its symlink and its running process are one entry; the impostors add no pid
    assert.deepEqual(byKey.get(`${kubelet.dev}:${kubelet.ino}`), { ...kubelet, path: '/usr/bin/kubelet', from: 'path', pids: [4244] });
    // containerd-shim-runc-v2 shows as the 15-character comm "containerd-shim"
    assert.deepEqual(byKey.get(`${shim.dev}:${shim.ino}`), { ...shim, path: shimPath, from: 'process', pids: [4242] });
    assert.deepEqual(r.refused, [
      { pid: 4246, comm: 'kubelet', reason: "not in the host's mount namespace (mnt:[4026532999])" },
      { pid: 4247, comm: 'containerd', reason: "in a pod's cgroup" },
      { pid: 4248, comm: 'runc', reason: `its executable is not the host's file at ${JSON.stringify(path.join(proc, 'not-in-root'))}` },
    ]);
  });

  test("a pod's cgroup, with either cgroup driver, v1 or v2", () => {
    for (const t of ['4:pids:/kubepods/burstable/pod1/c1', '0::/kubepods.slice/kubepods-besteffort.slice/x.scope', '1:name=systemd:/kubepods/pod9/c', '0::/kubepods']) assert.ok(inPodCgroup(t), t);
    for (const t of ['0::/', '0::/system.slice/kubelet.service', '4:pids:/mykubepods/x', '0::/kubepods-not']) assert.equal(inPodCgroup(t), false, t);
  });

  test('a namespace link that is not mnt:[N], a relative path, a missing /proc: one-line errors saying what was wrong', () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-exempt-'));
    try {
      fs.mkdirSync(path.join(bad, '1/ns'), { recursive: true });
      fs.symlinkSync('net:[4026531840]', path.join(bad, '1/ns/mnt'));
      assert.throws(() => hostMountNs(bad), /^HiveError: host mount namespace: .*1\/ns\/mnt must read mnt:\[NUMBER\] .*got 'net:\[4026531840\]'$/);
      assert.throws(() => hostMountNs(path.join(bad, 'none')), /^HiveError: host mount namespace: cannot read .*none\/1\/ns\/mnt: ENOENT/);
      assert.throws(() => exemptExecutables(proc, ['usr/bin/kubelet']), /paths must be absolute host paths, got 'usr\/bin\/kubelet'/);
      assert.throws(() => exemptExecutables(path.join(bad, 'none'), []), /cannot list .*none: ENOENT/);
    } finally {
      fs.rmSync(bad, { recursive: true, force: true });
    }
  });

  test('the defaults name the kubelet, containerd, its shims, runc, crio and conmon', () => {
    for (const c of ['kubelet', 'containerd', 'containerd-shim', 'containerd-shim-runc-v2', 'runc', 'crio', 'conmon']) assert.ok(commMatches(c, DEFAULT_EXEMPT_COMMS), c);
    for (const c of ['containerd2', 'run', 'bash', 'kubectl']) assert.equal(commMatches(c, DEFAULT_EXEMPT_COMMS), false, c);
    assert.ok(DEFAULT_EXEMPT_EXES.every((p) => path.isAbsolute(p)));
    assert.ok(DEFAULT_EXEMPT_EXES.includes('/usr/bin/kubelet') && DEFAULT_EXEMPT_EXES.includes('/usr/sbin/runc'));
  });
});
