// The node's exemptions, read from this machine's real /proc where that can be
// read without privileges (our own process, our own mount namespace), and
// from a small /proc-shaped tree where the host's pid 1 is needed (its root
// and namespace links are not readable inside every sandbox).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commMatches, DEFAULT_EXEMPT_COMMS, DEFAULT_EXEMPT_EXES, exemptExecutables, hostMountNs } from './exemptions';
import { kernelDevFromStat } from '../sys/devnum';

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

test("where pid 1's namespaces cannot be read, the host's are a running containerd's", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-exempt-ns-'));
  try {
    fs.symlinkSync('/proc/1', path.join(dir, '1'));
    fs.mkdirSync(path.join(dir, '77/ns'), { recursive: true });
    fs.writeFileSync(path.join(dir, '77/comm'), 'containerd\n');
    fs.symlinkSync('mnt:[4026532999]', path.join(dir, '77/ns/mnt'));
    let pid1: number | undefined;
    try {
      pid1 = Number(/\d+/.exec(fs.readlinkSync('/proc/1/ns/mnt'))![0]);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'EACCES');
    }
    // readable (most hosts): pid 1's; not (this CI machine): the runtime's
    assert.equal(hostMountNs(dir), pid1 ?? 4026532999);
    if (pid1 === undefined) {
      fs.writeFileSync(path.join(dir, '77/comm'), 'sleep\n');
      assert.throws(() => hostMountNs(dir), /cannot read .*1\/ns\/mnt: EACCES.*, and no running containerd, kubelet, crio to read it from$/);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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
    fs.writeFileSync(path.join(proc, 'shim-binary'), '');
    fs.mkdirSync(path.join(proc, '1/ns'), { recursive: true });
    fs.symlinkSync(root, path.join(proc, '1/root'));
    fs.symlinkSync('mnt:[4026531841]', path.join(proc, '1/ns/mnt'));
    for (const [pid, comm, exe] of [
      ['4242', 'containerd-shim', path.join(proc, 'shim-binary')],
      ['4243', 'bash', path.join(root, 'usr/bin/kubelet')],
      ['4244', 'kubelet', path.join(root, 'usr/bin/kubelet')],
      ['4245', 'runc', path.join(proc, 'gone')],
    ]) {
      fs.mkdirSync(path.join(proc, pid));
      fs.writeFileSync(path.join(proc, pid, 'comm'), `${comm}\n`);
      fs.symlinkSync(exe, path.join(proc, pid, 'exe'));
    }
  });
  after(() => fs.rmSync(proc, { recursive: true, force: true }));

  test('paths resolve inside the host root, missing ones and non-files are skipped with the reason; running processes by comm', () => {
    // as the agent reads them: the namespace once at start, the executables at every resync
    const r = { mountNs: hostMountNs(proc), ...exemptExecutables(proc, ['/usr/bin/kubelet', '/usr/local/bin/kubelet', '/usr/bin/containerd', '/usr/bin/crio']) };
    assert.equal(r.mountNs, 4026531841);
    assert.deepEqual(r.skipped, [
      { path: '/usr/bin/containerd', reason: 'no such file' },
      { path: '/usr/bin/crio', reason: 'not a regular file' },
    ]);
    const kubelet = inode(path.join(root, 'usr/bin/kubelet'));
    const shim = inode(path.join(proc, 'shim-binary'));
    const byKey = new Map(r.executables.map((e) => [`${e.dev}:${e.ino}`, e]));
    assert.equal(r.executables.length, 2, JSON.stringify(r.executables, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
    // the kubelet's path, its symlink and its running process are one entry
    assert.deepEqual(byKey.get(`${kubelet.dev}:${kubelet.ino}`), { ...kubelet, path: '/usr/bin/kubelet', from: 'path', pids: [4244] });
    // containerd-shim-runc-v2 shows as the 15-character comm "containerd-shim"
    assert.deepEqual(byKey.get(`${shim.dev}:${shim.ino}`), { ...shim, path: path.join(proc, 'shim-binary'), from: 'process', pids: [4242] });
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
