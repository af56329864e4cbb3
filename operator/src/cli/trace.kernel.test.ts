// `hive trace` end to end, as a user runs it: a real process, real BPF, real
// files; and every kind of bad input it must refuse with one line and exit 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { kernelSkip, run, testMode, tmpDir, waitFor } from '../testing/kernel';
import { assertOneLineError, hive, ready, startTrace as start } from '../testing/cli';

const skip = kernelSkip();

describe('hive trace', { skip }, () => {
  let dir: string;
  before(() => {
    dir = tmpDir();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('prints one JSON line per access with the DESIGN.md fields, and stops on SIGINT', async () => {
    const f = path.join(dir, 'shadow');
    fs.writeFileSync(f, 'root:*:1:0:99999:7:::\n');
    const h = start(['--mode', testMode(), f]);
    try {
      const r = await ready(h);
      assert.ok(['kprobe', 'fentry', 'lsm', 'tracepoint'].includes(String(r.mode)));
      const cat = await run('cat', [f]);
      await waitFor(() => h.stdout.length >= 1, 3000, 'an event line');
      const ev = JSON.parse(h.stdout[0]);
      const st = fs.statSync(f);
      assert.equal(ev.kind, 'file');
      assert.equal(ev.path, f);
      assert.equal(ev.inode, st.ino);
      assert.match(ev.dev, /^\d+:\d+$/);
      assert.deepEqual(ev.access, ['read']);
      assert.equal(ev.process.comm, 'cat');
      assert.equal(ev.process.tgid, cat.pid);
      assert.equal(typeof ev.process.ppid, 'number');
      assert.equal(ev.process.uid, 0);
      assert.equal(ev.mode, r.mode);
      assert.ok(Math.abs(Date.parse(ev.time) - Date.now()) < 5000);
      assert.equal(typeof ev.node, 'string');
      for (const k of ['trace', 'pod', 'container']) assert.equal(k in ev, false, `${k} is absent without Kubernetes`);
    } finally {
      h.child.kill('SIGINT');
    }
    assert.equal(await h.exited, 0);
    assert.ok(h.logs.some((l) => l.msg === 'stopped'));
  });

  test("a storm prints few lines whose counts sum to its accesses; the stop summary counts what was folded and lost", async () => {
    const f = path.join(dir, 'storm');
    fs.writeFileSync(f, 'x');
    const h = start(['--mode', testMode(), f]);
    const N = 20_000;
    let pid = 0;
    try {
      const r = await ready(h);
      const agg = r.aggregation as { on: boolean };
      const storm = await run(path.resolve(__dirname, '../../../build/storm'), [String(N), f]);
      pid = storm.pid;
      const mine = () => h.stdout.map((l) => JSON.parse(l)).filter((e) => e.process.tgid === pid);
      await waitFor(() => mine().reduce((n, e) => n + (e.count ?? 1), 0) >= N, 5000, 'the storm in lines');
      if (agg.on) assert.ok(mine().length <= 3, `${mine().length} lines`);
      assert.equal(mine().reduce((n, e) => n + (e.count ?? 1), 0), N);
    } finally {
      h.child.kill('SIGINT');
    }
    assert.equal(await h.exited, 0);
    const stopped = h.logs.find((l) => l.msg === 'stopped') as { counters: Record<string, number> } | undefined;
    assert.ok(stopped);
    assert.equal(stopped.counters.lost, 0);
    assert.equal(stopped.counters.dropped, 0);
    assert.equal(typeof stopped.counters.aggregated, 'number');
  });

  test('--pretty prints readable lines; a directory watches the files in it', async () => {
    const d = path.join(dir, 'ssh');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'id_rsa'), 'key');
    const h = start(['--pretty', '--mode', testMode(), d]);
    try {
      await ready(h);
      await run('cat', [path.join(d, 'id_rsa')]);
      await waitFor(() => h.stdout.some((l) => l.includes('id_rsa')), 3000, 'a pretty line');
      const line = h.stdout.find((l) => l.includes('id_rsa'))!;
      // the process chain (cat started by this test's node) and cat's executable
      assert.match(line, new RegExp(`READ +${path.join(d, 'id_rsa')} \\(ino \\d+ dev \\d+:\\d+\\) by cat\\[\\d+\\] ← node( ← \\S+)* exe=\\S*/cat uid=0`));
    } finally {
      h.child.kill('SIGINT');
    }
    assert.equal(await h.exited, 0);
  });

  test('--access write ignores reads', async () => {
    const f = path.join(dir, 'wonly');
    fs.writeFileSync(f, '');
    const h = start(['--access', 'write', '--mode', testMode(), f]);
    try {
      await ready(h);
      await run('cat', [f]);
      await run('sh', ['-c', `echo x >> ${f}`]);
      await waitFor(() => h.stdout.length >= 1, 3000, 'the write event');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(h.stdout.length, 1);
      assert.deepEqual(JSON.parse(h.stdout[0]).access, ['write']);
    } finally {
      h.child.kill('SIGINT');
    }
    await h.exited;
  });

  test('--skip-missing watches what exists and waits for the rest', async () => {
    const f = path.join(dir, 'exists');
    fs.writeFileSync(f, '');
    const late = path.join(dir, 'missing');
    const h = start(['--skip-missing', '--mode', testMode(), f, late]);
    try {
      const r = await ready(h);
      assert.equal(r.watches, 1);
      assert.equal(r.pending, 1);
      assert.ok(h.logs.some((l) => l.msg === 'path not found; watched when it appears' && l.path === late));
      fs.writeFileSync(late, 'now');
      await waitFor(() => h.logs.some((l) => l.msg === 'watch re-resolved' && l.path === late), 1000, 'the late file watched');
      const cat = await run('cat', [late]);
      await waitFor(() => h.stdout.some((l) => JSON.parse(l).process.tgid === cat.pid), 3000, 'the read of the late file');
      assert.equal(JSON.parse(h.stdout.find((l) => JSON.parse(l).process.tgid === cat.pid)!).inode, fs.statSync(late).ino);
    } finally {
      h.child.kill('SIGINT');
    }
    assert.equal(await h.exited, 0);
  });

  test('a watched file replaced by rename (mv conf.new conf) is still audited', async () => {
    const f = path.join(dir, 'conf');
    fs.writeFileSync(f, 'v1\n');
    const h = start(['--mode', testMode(), f]);
    try {
      await ready(h);
      const oldIno = fs.statSync(f).ino;
      await run('sh', ['-c', `echo v2 > ${f}.new && mv ${f}.new ${f}`]);
      const newIno = fs.statSync(f).ino;
      assert.notEqual(newIno, oldIno);
      await waitFor(() => h.logs.some((l) => l.msg === 'watch re-resolved' && (l.newIno as string[])?.includes(String(newIno))), 1000, 'the re-resolution log line');
      const line = h.logs.find((l) => l.msg === 'watch re-resolved')!;
      assert.deepEqual(line.oldIno, [String(oldIno)]);
      assert.equal(line.cause, 'notify');
      const cat = await run('cat', [f]);
      await waitFor(() => h.stdout.some((l) => JSON.parse(l).process.tgid === cat.pid), 3000, 'the read of the new file');
      const ev = JSON.parse(h.stdout.find((l) => JSON.parse(l).process.tgid === cat.pid)!);
      assert.equal(ev.inode, newIno);
      assert.equal(ev.path, f);
    } finally {
      h.child.kill('SIGINT');
    }
    assert.equal(await h.exited, 0);
  });

  test('bad input: one line, exit 2, no stack', async () => {
    const f = path.join(dir, 'ok');
    fs.writeFileSync(f, '');
    assertOneLineError(await hive(['trace', 'etc/shadow']), /^hive trace: etc\/shadow: relative path: paths must be absolute/);
    assertOneLineError(await hive(['trace', path.join(dir, 'nope')]), /: no such file or directory$/);
    assertOneLineError(await hive(['trace', '--mode', 'ebpf', f]), /unknown mode 'ebpf'; allowed: auto, kprobe, fentry, lsm, tracepoint/);
    assertOneLineError(await hive(['trace', '--max-watches', '1', f, path.join(dir, 'shadow')]), /too many watched files: 2, at most 1 are allowed/);
    assertOneLineError(await hive(['frob']), /unknown command 'frob'/);
  });

  test('a mode the kernel cannot attach is refused, naming the modes it can', async (t) => {
    const probe = JSON.parse((await hive(['probe'])).stdout);
    const unsupported = (['kprobe', 'fentry', 'lsm'] as const).find((m) => !probe.modes[m].supported);
    if (!unsupported) {
      t.skip('this kernel supports every mode');
      return;
    }
    const f = path.join(dir, 'ok');
    const res = await hive(['trace', '--mode', unsupported, f]);
    assertOneLineError(res, new RegExp(`mode ${unsupported} cannot attach on this kernel: .*; this kernel supports: `));
    const supported = ['kprobe', 'fentry', 'lsm', 'tracepoint'].filter((m) => probe.modes[m].supported);
    assert.ok(res.stderr.trim().endsWith(`this kernel supports: ${supported.join(', ')}`), res.stderr);
  });

  test('hive trace --deny: a cat of the path fails with EPERM and its line says denied; where no mode can deny, exit 2 naming them', async (t) => {
    const f = path.join(dir, 'deny-me');
    fs.writeFileSync(f, 'api-key=s3cr3t\n');
    const probe = JSON.parse((await hive(['probe'])).stdout);
    if (!probe.modes.fentry.supported && !probe.modes.lsm.supported) {
      assertOneLineError(await hive(['trace', '--deny', f]), /^no attach mode that can deny \(fentry, lsm\) works on this kernel: /);
      return;
    }
    const h = start(['--deny', f]);
    try {
      const r = await ready(h);
      assert.ok(['fentry', 'lsm'].includes(String(r.mode)), String(r.mode));
      assert.equal(r.action, 'deny');
      const cat = await new Promise<{ pid: number; code: number | null; stderr: string }>((resolve) => {
        const c = spawn('cat', [f], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('close', (code) => resolve({ pid: c.pid!, code, stderr }));
      });
      assert.equal(cat.code, 1);
      assert.match(cat.stderr, /Operation not permitted/);
      await waitFor(() => h.stdout.length >= 1, 3000, 'an event line');
      const ev = JSON.parse(h.stdout[0]);
      assert.equal(ev.verdict, 'denied');
      assert.equal(ev.process.tgid, cat.pid);
      // what the README shows: real output of this run
      t.diagnostic(`cat: ${cat.stderr.trim()} (exit ${cat.code})`);
      t.diagnostic(`event: ${h.stdout[0]}`);
    } finally {
      h.child.kill('SIGINT');
    }
    assert.equal(await h.exited, 0);
    // the programs are gone with the process: access is back
    assert.equal((await run('cat', [f])).code, 0);
  });

  test('missing BTF and missing capabilities are named', async () => {
    const f = path.join(dir, 'ok');
    const noBtf = await hive(['trace', f], { env: { ...process.env, HIVE_KERNEL_BTF: '/nonexistent/vmlinux' } });
    assertOneLineError(noBtf, /kernel BTF not found at \/nonexistent\/vmlinux/);
    assertOneLineError(await hive(['trace', f], { noCaps: true }), /missing capabilities: hive needs CAP_BPF and CAP_PERFMON \(or CAP_SYS_ADMIN\)/);
    assertOneLineError(await hive(['probe'], { noCaps: true }), /missing capabilities/);
  });
});

describe('hive probe', { skip }, () => {
  test('prints the supported modes as JSON, and auto is the best of them', async () => {
    const res = await hive(['probe']);
    assert.equal(res.code, 0, res.stderr);
    const p = JSON.parse(res.stdout);
    assert.equal(p.btf, true);
    for (const m of ['kprobe', 'fentry', 'lsm', 'tracepoint']) assert.equal(typeof p.modes[m].supported, 'boolean');
    const order = ['fentry', 'kprobe', 'lsm', 'tracepoint'];
    assert.equal(p.auto, order.find((m) => p.modes[m].supported) ?? null);
    assert.ok(p.modes.tracepoint.supported, 'the tracepoint fallback works on every kernel hive supports');
  });
});
