// Enforcement in the running kernel: real programs refusing real opens. Per
// mode in HIVE_TEST_MODES: lsm and fentry (fmod_ret) deny with EPERM,
// tracepoint kills the opener, kprobe is refused up front. On the host
// (auto) the kill suite runs in the tracepoint mode and the deny suite skips
// when no mode that can deny attaches (the host kernel has no fentry/LSM).
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { FileAccessMonitor, FileAccessOptions, WatchEntry } from './monitor';
import { ACCESS, ACCESS_ALL, RawFileEvent, VERDICT } from './layout';
import { Enforcement, MODE_ENFORCEMENT } from './action';
import { EnvironmentError, HiveError } from '../util/errors';
import { inodeOf, kernelSkip, settle, sleep, testModes, tmpDir, waitFor } from '../testing/kernel';
import { ModeOption } from './modes';

const skip = kernelSkip();
const EPERM_TEXT = /Operation not permitted/; // strerror(EPERM), as cat and sh print it
const json = (x: unknown) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? String(v) : v));

interface Ran {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, keeping its stderr (the errno's text) and the signal that ended it. */
function runCapture(cmd: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ pid: child.pid ?? -1, code, signal, stdout, stderr }));
  });
}

describe('enforcement in the running kernel', { skip, concurrency: true }, () => {
  for (const mode of testModes()) {
    const can = mode === 'auto' ? (['deny', 'kill'] as const) : MODE_ENFORCEMENT[mode] ? [MODE_ENFORCEMENT[mode]!] : [];
    for (const e of can) describe(`mode ${mode}, ${e}`, { concurrency: 1 }, () => (e === 'deny' ? denySuite(mode) : killSuite(mode)));
    for (const e of can) describe(`mode ${mode}, ${e}, exemptions`, { concurrency: 1 }, () => exemptSuite(mode, e));
    for (const e of can) describe(`mode ${mode}, ${e}, scoped to pid namespaces`, { concurrency: 1 }, () => scopeSuite(mode, e));
    if (mode !== 'auto' && !MODE_ENFORCEMENT[mode]) describe(`mode ${mode}`, () => cannotSuite(mode));
    describe(`mode ${mode}, would-deny`, { concurrency: 1 }, () => wouldSuite(mode));
  }
});

/** The monitor, its events and files shared by a suite's tests. */
function fixture(mode: ModeOption, enforce: Enforcement, options: Omit<FileAccessOptions, 'mode' | 'enforce'> = {}) {
  const s = {
    monitor: null as FileAccessMonitor | null,
    /** Why the suite cannot run on this kernel (auto only: no mode that can attaches). */
    unavailable: '',
    dir: '',
    events: [] as RawFileEvent[],
    nextId: 1,
    watch(p: string, access: number, stop: number = access): WatchEntry {
      const e: WatchEntry = { ...inodeOf(p), watchId: s.nextId++, access, [enforce]: stop };
      s.monitor!.watch([e]);
      return e;
    },
    file(name: string, text = `${name}\n`): string {
      const f = path.join(s.dir, name);
      fs.writeFileSync(f, text);
      return f;
    },
    async eventsOf(tgid: number, n: number): Promise<RawFileEvent[]> {
      const mine = () => s.events.filter((e) => e.tgid === tgid);
      if (n > 0) await waitFor(() => mine().length >= n, 3000, `${n} event(s) from pid ${tgid}`);
      await settle();
      return mine();
    },
    /** Skips the test when the suite cannot run here; true when it can. */
    ready(t: TestContext): boolean {
      if (s.monitor) return true;
      t.skip(s.unavailable);
      return false;
    },
  };
  before(() => {
    s.dir = tmpDir('hive-enforce-');
    try {
      s.monitor = FileAccessMonitor.open({ ...options, mode, enforce }).monitor;
    } catch (e) {
      // not applicable on this kernel (no mode that can attaches): says so, not a missing requirement
      if (mode === 'auto' && e instanceof EnvironmentError) {
        s.unavailable = `no mode that can ${enforce} attaches on this kernel: ${e.message}`;
        return;
      }
      throw e;
    }
    assert.equal(s.monitor.enforce, enforce);
    if (mode !== 'auto') assert.equal(s.monitor.mode, mode);
    s.monitor.onEvents((batch) => s.events.push(...batch), 20);
  });
  after(() => {
    s.monitor?.close();
    fs.rmSync(s.dir, { recursive: true, force: true });
  });
  return s;
}

function denySuite(mode: ModeOption) {
  const s = fixture(mode, 'deny');

  test('a cat of a denied file fails with EPERM and its event says denied', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('secret', 'top secret\n');
    const w = s.watch(f, ACCESS_ALL);
    const r = await runCapture('cat', [f]);
    assert.equal(r.code, 1, `cat exit status (stderr: ${r.stderr})`);
    assert.match(r.stderr, EPERM_TEXT);
    assert.equal(r.stdout, '', 'nothing was read');
    const got = await s.eventsOf(r.pid, 1);
    assert.equal(got.length, 1, json(got));
    assert.equal(VERDICT[got[0].verdict], 'denied');
    assert.equal(got[0].access, ACCESS.read);
    assert.equal(got[0].watchId, w.watchId);
  });

  test('an unwatched sibling in the same directory still reads', async (t) => {
    if (!s.ready(t)) return;
    s.watch(s.file('denied-next-door'), ACCESS_ALL);
    const sibling = s.file('sibling', 'open\n');
    const r = await runCapture('cat', [sibling]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'open\n');
    assert.equal((await s.eventsOf(r.pid, 0)).length, 0);
  });

  test('a watch denying writes still lets reads through (allowed event), and refuses the write', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('config', 'v=1\n');
    s.watch(f, ACCESS.read | ACCESS.write, ACCESS.write);
    const r = await runCapture('cat', [f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'v=1\n');
    const reads = await s.eventsOf(r.pid, 1);
    assert.deepEqual(reads.map((e) => VERDICT[e.verdict]), ['allowed']);
    const w = await runCapture('sh', ['-c', `echo v=2 >> ${f}`]);
    assert.notEqual(w.code, 0, 'the write must fail');
    assert.match(w.stderr, EPERM_TEXT);
    assert.equal(fs.readFileSync(f, 'utf8'), 'v=1\n', 'the file is unchanged');
    const writes = await s.eventsOf(w.pid, 1);
    assert.deepEqual(writes.map((e) => [VERDICT[e.verdict], e.access]), [['denied', ACCESS.write]]);
  });

  test('a hard link and a symlink to the denied file are denied too (the match is by inode)', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('key', 'k\n');
    s.watch(f, ACCESS_ALL);
    const hard = path.join(s.dir, 'key.hard');
    const sym = path.join(s.dir, 'key.sym');
    fs.linkSync(f, hard);
    fs.symlinkSync(f, sym);
    for (const p of [hard, sym]) {
      const r = await runCapture('cat', [p]);
      assert.equal(r.code, 1, `${p}: ${r.stderr}`);
      assert.match(r.stderr, EPERM_TEXT);
      const got = await s.eventsOf(r.pid, 1);
      assert.deepEqual(got.map((e) => VERDICT[e.verdict]), ['denied'], p);
    }
  });

  test('the process that loaded the programs is never denied (allowed event)', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('own', 'mine\n');
    s.watch(f, ACCESS_ALL);
    assert.equal(fs.readFileSync(f, 'utf8'), 'mine\n');
    await waitFor(() => s.events.some((e) => e.tgid === process.pid && e.ino === inodeOf(f).ino), 3000, 'our own read');
    const own = s.events.filter((e) => e.tgid === process.pid && e.ino === inodeOf(f).ino);
    assert.ok(own.every((e) => VERDICT[e.verdict] === 'allowed'), json(own));
    // a child of ours is not exempt
    const r = await runCapture('cat', [f]);
    assert.equal(r.code, 1);
  });

  test('removing the watch restores access', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('temp-deny', 'later\n');
    const w = s.watch(f, ACCESS_ALL);
    assert.equal((await runCapture('cat', [f])).code, 1);
    assert.equal(s.monitor!.unwatch([w]), 1);
    const r = await runCapture('cat', [f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'later\n');
  });

  test('a storm of refused retries folds into denied records only', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('retry', 'r\n');
    s.watch(f, ACCESS_ALL);
    const r = await runCapture('sh', ['-c', `for i in 1 2 3 4 5 6 7 8; do read x < ${f}; done; true`]);
    assert.equal(r.code, 0);
    s.monitor!.flush();
    await settle();
    const got = s.events.filter((e) => e.tgid === r.pid);
    assert.ok(got.length >= 1);
    assert.ok(got.every((e) => VERDICT[e.verdict] === 'denied'), json(got));
    assert.equal(got.reduce((n, e) => n + e.count, 0), 8, `8 refused opens: ${json(got)}`);
  });

  test('closing the monitor restores access (its programs detach)', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('last', 'free\n');
    s.watch(f, ACCESS_ALL);
    assert.equal((await runCapture('cat', [f])).code, 1);
    s.monitor!.close();
    s.monitor = null;
    s.unavailable = 'closed';
    const r = await runCapture('cat', [f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'free\n');
  });
}

function killSuite(mode: ModeOption) {
  const s = fixture(mode, 'kill');

  test('the opener of a kill-watched file is killed before it reads; its parent and a sibling live on', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('canary', 'do not read\n');
    const w = s.watch(f, ACCESS.read);
    const sibling = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      // the shell starts cat and reports how it ended: the shell is not the opener
      const r = await runCapture('sh', ['-c', `cat ${f} & c=$!; echo "pid=$c"; wait $c; echo "status=$?"`]);
      assert.equal(r.code, 0, `the parent shell lives on (stderr: ${r.stderr})`);
      const catPid = Number(/pid=(\d+)/.exec(r.stdout)?.[1]);
      assert.match(r.stdout, /status=137\n/, `cat ended by SIGKILL (128+9): ${r.stdout}`);
      assert.doesNotMatch(r.stdout, /do not read/, 'cat printed nothing of the file');
      await sleep(50);
      assert.equal(sibling.exitCode, null, 'the sibling still runs');
      assert.doesNotThrow(() => process.kill(sibling.pid!, 0), 'the sibling still exists');
      const got = await s.eventsOf(catPid, 1);
      assert.equal(got.length, 1, json(got));
      assert.equal(VERDICT[got[0].verdict], 'killed');
      assert.equal(got[0].comm, 'cat');
      assert.equal(got[0].watchId, w.watchId);
    } finally {
      sibling.kill('SIGKILL');
    }
  });

  test('an unwatched file and an audit-only watch are read as usual (allowed)', async (t) => {
    if (!s.ready(t)) return;
    const plain = s.file('plain', 'p\n');
    const audited = s.file('audited', 'a\n');
    s.monitor!.watch([{ ...inodeOf(audited), watchId: s.nextId++, access: ACCESS_ALL }]);
    const r = await runCapture('cat', [plain, audited]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'p\na\n');
    const got = await s.eventsOf(r.pid, 1);
    assert.deepEqual(got.map((e) => VERDICT[e.verdict]), ['allowed']);
  });

  test('the process that loaded the programs is never killed', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('own-kill', 'mine\n');
    s.watch(f, ACCESS.read);
    assert.equal(fs.readFileSync(f, 'utf8'), 'mine\n'); // we are still here
    await waitFor(() => s.events.some((e) => e.tgid === process.pid && e.ino === inodeOf(f).ino), 3000, 'our own read');
    const own = s.events.filter((e) => e.tgid === process.pid && e.ino === inodeOf(f).ino);
    assert.ok(own.every((e) => VERDICT[e.verdict] === 'allowed'), json(own));
  });

  test('removing the watch lets the opener live', async (t) => {
    if (!s.ready(t)) return;
    const f = s.file('temp-kill', 't\n');
    const w = s.watch(f, ACCESS.read);
    assert.equal((await runCapture('cat', [f])).signal, 'SIGKILL');
    s.monitor!.unwatch([w]);
    const r = await runCapture('cat', [f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 't\n');
  });
}

/** A mode that can stop nothing: refused before anything is loaded, and its watches cannot ask. */
function cannotSuite(mode: ModeOption) {
  test('asking it to deny or kill is an error naming the modes that can', () => {
    assert.throws(() => FileAccessMonitor.open({ mode, enforce: 'deny' }), (e: unknown) => e instanceof HiveError && /modes that can: fentry, lsm$/.test(e.message));
    assert.throws(() => FileAccessMonitor.open({ mode, enforce: 'kill' }), (e: unknown) => e instanceof HiveError && /modes that can: tracepoint$/.test(e.message));
  });

  test('an audit monitor refuses a watch that asks to deny (never audits it silently)', () => {
    const { monitor } = FileAccessMonitor.open({ mode, maxWatches: 16, ringBufferBytes: 4096 });
    try {
      const dir = tmpDir('hive-enforce-');
      const f = path.join(dir, 'x');
      fs.writeFileSync(f, '');
      assert.throws(() => monitor.watch([{ ...inodeOf(f), watchId: 1, access: ACCESS.read, deny: ACCESS.read }]), /audit only .*cannot deny/);
      assert.equal(monitor.watchedCount, 0);
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      monitor.close();
    }
  });
}

/** A copy of the executable `bin` at `to` (another inode: what an exemption names), runnable. */
function copyOf(bin: string, to: string): string {
  fs.copyFileSync(fs.realpathSync(bin), to);
  fs.chmodSync(to, 0o755);
  return to;
}

/** How a stopped cat ends: killed by SIGKILL, or refused with EPERM (status 1). */
function assertStopped(enforce: Enforcement, r: Ran, what: string) {
  if (enforce === 'kill') assert.equal(r.signal, 'SIGKILL', `${what} is killed (status ${r.code}, stderr: ${r.stderr})`);
  else {
    assert.equal(r.code, 1, `${what} fails (stderr: ${r.stderr})`);
    assert.match(r.stderr, EPERM_TEXT);
  }
  assert.equal(r.stdout, '', `${what} read nothing`);
}

/** The tasks enforcement never stops: exempt executables (by inode) and the exempt mount namespace. */
function exemptSuite(mode: ModeOption, enforce: Enforcement) {
  const stopped = enforce === 'kill' ? 'killed' : 'denied';

  describe('exempt executables', { concurrency: 1 }, () => {
    const s = fixture(mode, enforce);

    test(`a copy of cat whose inode is exempt reads the file (allowed, counted); cat itself is ${stopped}`, async (t) => {
      if (!s.ready(t)) return;
      const f = s.file('guarded', 'guarded\n');
      const w = s.watch(f, ACCESS.read);
      const exempt = copyOf('/bin/cat', path.join(s.dir, 'cat-exempt'));
      s.monitor!.setExemptExecutables([inodeOf(exempt)]);
      assert.equal(s.monitor!.exemptExecutables.length, 1);
      const before = s.monitor!.counters().exempt;
      const ok = await runCapture(exempt, [f]);
      assert.equal(ok.code, 0, `the exempt copy lives (signal ${ok.signal}, stderr: ${ok.stderr})`);
      assert.equal(ok.stdout, 'guarded\n');
      const allowed = await s.eventsOf(ok.pid, 1);
      assert.deepEqual(allowed.map((e) => [VERDICT[e.verdict], e.watchId]), [['allowed', w.watchId]], 'still reported, as allowed');
      assert.ok(s.monitor!.counters().exempt >= before + 1, `exempt counter ${before} -> ${s.monitor!.counters().exempt}`);
      const no = await runCapture('/bin/cat', [f]);
      assertStopped(enforce, no, '/bin/cat');
      assert.deepEqual((await s.eventsOf(no.pid, 1)).map((e) => VERDICT[e.verdict]), [stopped]);
    });

    test('replacing the set takes the exemption away; bad entries are refused naming the operation', async (t) => {
      if (!s.ready(t)) return;
      const f = s.file('guarded-2', 'g\n');
      s.watch(f, ACCESS.read);
      const exempt = copyOf('/bin/cat', path.join(s.dir, 'cat-exempt-2'));
      s.monitor!.setExemptExecutables([inodeOf(exempt)]);
      assert.equal((await runCapture(exempt, [f])).code, 0);
      s.monitor!.setExemptExecutables([]);
      assert.equal(s.monitor!.exemptExecutables.length, 0);
      assertStopped(enforce, await runCapture(exempt, [f]), 'the copy, no longer exempt');
      assert.throws(() => s.monitor!.setExemptExecutables([{ ino: -1n, dev: 0 }]), /^HiveError: set exempt executables: inode must be/);
      assert.throws(() => s.monitor!.setExemptExecutables([{ ino: 1n, dev: 2 ** 32 }]), /set exempt executables: dev must be/);
    });
  });

  describe('exempt mount namespace', { concurrency: 1 }, () => {
    const ownMntNs = Number(fs.statSync('/proc/self/ns/mnt').ino);
    const s = fixture(mode, enforce, { exemptMountNs: ownMntNs });

    test(`a cat in the exempt mount namespace reads the file (allowed, counted); one in a new mount namespace is ${stopped}`, async (t) => {
      if (!s.ready(t)) return;
      assert.equal(s.monitor!.exemptMountNs, ownMntNs);
      const f = s.file('host-only', 'host\n');
      s.watch(f, ACCESS.read);
      const before = s.monitor!.counters().exempt;
      const ok = await runCapture('cat', [f]);
      assert.equal(ok.code, 0, `cat in our namespace lives (signal ${ok.signal}, stderr: ${ok.stderr})`);
      assert.equal(ok.stdout, 'host\n');
      assert.deepEqual((await s.eventsOf(ok.pid, 1)).map((e) => VERDICT[e.verdict]), ['allowed']);
      assert.ok(s.monitor!.counters().exempt >= before + 1, 'counted as exempt');
      // unshare execs cat itself (no --fork) in a mount namespace of its own
      const probe = await runCapture('unshare', ['-m', 'readlink', '/proc/self/ns/mnt']);
      assert.equal(probe.code, 0, probe.stderr);
      assert.notEqual(probe.stdout.trim(), `mnt:[${ownMntNs}]`, 'unshare -m makes another mount namespace');
      const no = await runCapture('unshare', ['-m', 'cat', f]);
      assertStopped(enforce, no, 'cat in a new mount namespace');
      const got = await s.eventsOf(no.pid, 1);
      assert.deepEqual(got.map((e) => [VERDICT[e.verdict], e.comm]), [[stopped, 'cat']]);
    });

    test(`an exempt executable counts only as the host runs it: exec'd in another mount namespace it is ${stopped}; started here, then entering one, it is exempt`, async (t) => {
      if (!s.ready(t)) return;
      const f = s.file('host-runtime-only', 'runtime\n');
      s.watch(f, ACCESS.read);
      const cat = copyOf('/bin/cat', path.join(s.dir, 'cat-exempt-ns'));
      // runc's pattern: started in the host's namespace, then unshare(CLONE_NEWNS) (272 on x86_64), then the read
      const perl = copyOf('/usr/bin/perl', path.join(s.dir, 'perl-exempt'));
      s.monitor!.setExemptExecutables([inodeOf(cat), inodeOf(perl)]);
      // a pod that mounts the host's runtime and runs it: the file is exempt, the way it was started is not
      const pod = await runCapture('unshare', ['-m', cat, f]);
      assertStopped(enforce, pod, 'the exempt file exec\'d in a new mount namespace');
      assert.deepEqual((await s.eventsOf(pod.pid, 1)).map((e) => VERDICT[e.verdict]), [stopped]);
      const script = 'syscall(272, 0x20000) == 0 or die "unshare: $!"; print STDERR readlink("/proc/self/ns/mnt"); open(my $h, "<", $ARGV[0]) or die "open: $!"; print <$h>';
      const runtime = await runCapture(perl, ['-e', script, f]);
      assert.equal(runtime.code, 0, `the runtime lives (signal ${runtime.signal}, stderr: ${runtime.stderr})`);
      assert.equal(runtime.stdout, 'runtime\n');
      assert.match(runtime.stderr, /^mnt:\[\d+\]$/);
      assert.notEqual(runtime.stderr, `mnt:[${ownMntNs}]`, 'it read from a mount namespace of its own');
      assert.deepEqual((await s.eventsOf(runtime.pid, 1)).map((e) => VERDICT[e.verdict]), ['allowed']);
    });

    test('a bad mount namespace number is refused before anything loads', () => {
      for (const bad of [-1, 2 ** 32, 1.5]) {
        assert.throws(() => FileAccessMonitor.open({ mode, enforce, exemptMountNs: bad }), /exempt mount namespace \(inode number\) must be/);
      }
    });
  });
}

/** The inode number of a /proc/<pid>/ns/<kind> link ("pid:[4026532001]"). */
function nsInum(link: string): number {
  const m = /^\w+:\[(\d+)\]$/.exec(fs.readlinkSync(link));
  assert.ok(m, `${link} names a namespace`);
  return Number(m[1]);
}

/** `sh -c` run in the pid namespace `pidNsFile` names (through nsenter, which forks into it); `status=N` ends its output. */
function inPidNs(pidNsFile: string, script: string, nest = false): Promise<Ran> {
  return runCapture('nsenter', [`--pid=${pidNsFile}`, '--', ...(nest ? ['unshare', '-pf'] : []), 'sh', '-c', `${script}; echo status=$?`]);
}

/**
 * A trace stops its pods only (SECURITY-REVIEW M1): a stop scoped to a pid
 * namespace applies to the tasks of that namespace and of namespaces nested
 * under it, and to no one else reaching the same inode.
 */
function scopeSuite(mode: ModeOption, enforce: Enforcement) {
  const s = fixture(mode, enforce);
  const stopped = enforce === 'kill' ? 'killed' : 'denied';
  let holder: ReturnType<typeof spawn> | undefined;
  let podNs = '';
  before(async () => {
    // a "pod": a pid namespace kept alive by a sleeping init
    holder = spawn('unshare', ['-pf', 'sleep', '600'], { stdio: 'ignore' });
    podNs = `/proc/${holder.pid}/ns/pid_for_children`;
    await waitFor(() => fs.readdirSync(`/proc/${holder!.pid}/task/${holder!.pid}`).length > 0 && fs.readFileSync(`/proc/${holder!.pid}/task/${holder!.pid}/children`, 'utf8').trim() !== '', 3000, 'the namespace holder');
  });
  after(() => holder?.kill('SIGKILL'));

  test(`a stop scoped to a pod's pid namespace: its tasks are ${stopped}, also in a namespace they nest; a host task reads (allowed, foreign counted, no scope)`, async (t) => {
    if (!s.ready(t)) return;
    const ns = nsInum(podNs);
    assert.notEqual(ns, nsInum('/proc/self/ns/pid'), 'the holder made a pid namespace of its own');
    const f = s.file('shared-host-file', 'shared\n');
    const watchId = s.nextId++;
    s.monitor!.watch([{ ...inodeOf(f), watchId, access: ACCESS_ALL, scopes: [{ pidNs: ns, [enforce]: ACCESS.read }] }]);
    assert.equal(s.monitor!.kernelScopeCount(), 1);

    const inPod = await inPidNs(podNs, `cat ${f}`);
    assert.equal(inPod.code, 0, inPod.stderr);
    assert.doesNotMatch(inPod.stdout, /shared/, 'the pod read nothing');
    assert.match(inPod.stdout, enforce === 'kill' ? /status=137/ : /status=1\b/, `the pod's cat is ${stopped} (stderr: ${inPod.stderr})`);
    const podEvents = () => s.events.filter((e) => e.watchId === watchId && e.scopeNs === ns);
    await waitFor(() => podEvents().length >= 1, 3000, 'the pod\'s event');
    assert.deepEqual(podEvents().map((e) => [VERDICT[e.verdict], e.comm]), [[stopped, 'cat']]);

    // unshare -p inside the pod: a namespace of its own, still under the pod's
    const nested = await inPidNs(podNs, `readlink /proc/self/ns/pid >&2; cat ${f}`, true);
    assert.doesNotMatch(nested.stdout, /shared/, 'the nested task read nothing');
    assert.notEqual(nested.stderr.trim().split('\n')[0], `pid:[${ns}]`, 'it ran in a namespace of its own');
    await waitFor(() => podEvents().length >= 2, 3000, 'the nested task\'s event');
    assert.deepEqual(podEvents().map((e) => VERDICT[e.verdict]), [stopped, stopped]);

    const before = s.monitor!.counters().foreign;
    const host = await runCapture('cat', [f]);
    assert.equal(host.code, 0, `the host's cat lives (signal ${host.signal}, stderr: ${host.stderr})`);
    assert.equal(host.stdout, 'shared\n');
    assert.deepEqual((await s.eventsOf(host.pid, 1)).map((e) => [VERDICT[e.verdict], e.scopeNs]), [['allowed', 0]], 'reported, allowed, in no scope');
    assert.ok(s.monitor!.counters().foreign >= before + 1, `foreign counter ${before} -> ${s.monitor!.counters().foreign}`);

    // the scope lifted: the pod reads, and the kernel keeps no scope entry
    s.monitor!.watch([{ ...inodeOf(f), watchId, access: ACCESS_ALL }]);
    assert.equal(s.monitor!.kernelScopeCount(), 0);
    const freed = await inPidNs(podNs, `cat ${f}`);
    assert.match(freed.stdout, /shared\nstatus=0/, freed.stderr);
  });

  test('another namespace\'s scope on the same inode does not stop this one; unwatching removes every scope', async (t) => {
    if (!s.ready(t)) return;
    const ns = nsInum(podNs);
    const f = s.file('two-scopes', 'two\n');
    const watchId = s.nextId++;
    const other = ns + 1; // a namespace no task here is in
    s.monitor!.watch([{ ...inodeOf(f), watchId, access: ACCESS.read, scopes: [{ pidNs: other, [enforce]: ACCESS.read }, { pidNs: ns, would: ACCESS.read }] }]);
    assert.equal(s.monitor!.kernelScopeCount(), 2);
    const r = await inPidNs(podNs, `cat ${f}`);
    assert.match(r.stdout, /two\nstatus=0/, `the pod's cat reads: its scope only audits (stderr: ${r.stderr})`);
    const got = () => s.events.filter((e) => e.watchId === watchId);
    await waitFor(() => got().length >= 1, 3000, 'the event');
    assert.deepEqual(got().map((e) => [VERDICT[e.verdict], e.scopeNs]), [['would-deny', ns]]);
    assert.equal(s.monitor!.unwatch([inodeOf(f)]), 1);
    assert.equal(s.monitor!.kernelScopeCount(), 0);
    assert.throws(() => s.monitor!.watch([{ ...inodeOf(f), watchId, access: ACCESS.read, scopes: [{ pidNs: ns }, { pidNs: ns }] }]), /pid namespace \d+ is scoped twice/);
    assert.throws(() => s.monitor!.watch([{ ...inodeOf(f), watchId, access: ACCESS.read, scopes: [{ pidNs: 0 }] }]), /scope's pid namespace must be an inode number/);
    assert.throws(() => s.monitor!.watch([{ ...inodeOf(f), watchId, access: ACCESS.read, scopes: [{ pidNs: ns, [enforce]: ACCESS.write }] }]), /must be a subset of the access mask/);
  });
}

/** An audited deny or kill (the agent's rollout): reported would-deny, never stopped, in every mode. */
function wouldSuite(mode: ModeOption) {
  let monitor: FileAccessMonitor;
  let dir = '';
  const events: RawFileEvent[] = [];
  before(() => {
    dir = tmpDir('hive-would-');
    monitor = FileAccessMonitor.open({ mode, enforce: 'capable', maxWatches: 16, ringBufferBytes: 1 << 16 }).monitor;
    monitor.onEvents((batch) => events.push(...batch), 20);
  });
  after(() => {
    monitor?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const verdictsOf = async (pid: number) => {
    await waitFor(() => events.some((e) => e.tgid === pid), 3000, `an event from pid ${pid}`);
    await settle();
    return events.filter((e) => e.tgid === pid).map((e) => VERDICT[e.verdict]);
  };

  test("'capable' opens with what the mode can stop (kprobe: nothing)", () => {
    assert.equal(monitor.enforce, MODE_ENFORCEMENT[monitor.mode]);
  });

  test('a would-deny read lives and says would-deny; an exempt executable says allowed; a bad mask is refused', async () => {
    const f = path.join(dir, 'rollout');
    fs.writeFileSync(f, 'rollout\n');
    monitor.watch([{ ...inodeOf(f), watchId: 1, access: ACCESS.read | ACCESS.write, would: ACCESS.read }]);
    const r = await runCapture('cat', [f]);
    assert.equal(r.code, 0, `cat lives (signal ${r.signal}, stderr: ${r.stderr})`);
    assert.equal(r.stdout, 'rollout\n');
    assert.deepEqual(await verdictsOf(r.pid), ['would-deny']);
    // a write is watched but not in the would mask: allowed
    const w = await runCapture('sh', ['-c', `echo x >> ${f}`]);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(await verdictsOf(w.pid), ['allowed']);
    const exempt = copyOf('/bin/cat', path.join(dir, 'cat-exempt'));
    monitor.setExemptExecutables([inodeOf(exempt)]);
    const x = await runCapture(exempt, [f]);
    assert.equal(x.code, 0, x.stderr);
    assert.deepEqual(await verdictsOf(x.pid), ['allowed'], 'exemptions apply to what enforcing would do');
    assert.throws(() => monitor.watch([{ ...inodeOf(f), watchId: 1, access: ACCESS.read, would: ACCESS.write }]), /would-deny mask must be a subset of the access mask 1, got 2/);
  });
}
