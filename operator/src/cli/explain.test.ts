// `hive explain` as a user runs it: the real CLI as a child process with every
// capability dropped (it must need none to explain host paths), on a real
// directory tree under the temporary directory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { assertOneLineError, hive } from '../testing/cli';
import { commandSkip } from '../testing/require';

let dir: string;
const TS = '..2026_12_02_10_00_00.123';
const skip = commandSkip(['setpriv'], 'util-linux provides setpriv');

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-explain-cli-'));
  fs.mkdirSync(path.join(dir, 'vol', TS), { recursive: true });
  fs.writeFileSync(path.join(dir, 'vol', TS, 'token'), 'jwt');
  fs.symlinkSync(TS, path.join(dir, 'vol/..data'));
  fs.symlinkSync('..data/token', path.join(dir, 'vol/token'));
  fs.symlinkSync('b', path.join(dir, 'a'));
  fs.symlinkSync('a', path.join(dir, 'b'));
  for (const n of ['x.pem', 'y.pem']) fs.writeFileSync(path.join(dir, n), '');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/* eslint-disable @typescript-eslint/no-explicit-any */
test('explains each path: hops, final inode and device, mount; reasons for the rest; no capability needed', { skip }, async () => {
  const token = path.join(dir, 'vol/token');
  const r = await hive(['explain', '--json', token, path.join(dir, 'missing/x'), path.join(dir, 'a'), path.join(dir, '*.pem')], { noCaps: true });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.root, '/');
  const [t, missing, loop, glob] = doc.paths as any[];
  const st = fs.statSync(path.join(dir, 'vol', TS, 'token'), { bigint: true });
  assert.equal(t.state, 'ok');
  assert.equal(t.files[0].ino, st.ino.toString());
  assert.equal(t.files[0].final, path.join(dir, 'vol', TS, 'token'));
  assert.deepEqual(t.files[0].hops.map((h: any) => h.target), ['..data/token', TS]);
  // the mount is the host's, as /proc/self/mountinfo has it, and its device is the file's
  const mi = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  assert.ok(mi.includes(` ${t.files[0].mount.mountPoint.replace(/ /g, '\\040')} `), t.files[0].mount.mountPoint);
  assert.equal(t.files[0].mount.devMismatch, undefined);
  assert.equal(missing.state, 'pending');
  assert.deepEqual(missing.waitsFor, { dir, name: 'missing' });
  assert.equal(loop.state, 'error');
  assert.match(loop.reason, /symlink loop/);
  assert.deepEqual(glob.files.map((f: any) => path.basename(f.path)), ['x.pem', 'y.pem']);
});

test('readable by default: one block per path', { skip }, async () => {
  const r = await hive(['explain', path.join(dir, 'vol/token'), path.join(dir, 'nope')], { noCaps: true });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^root \/ \(this host\)\n/);
  assert.match(out, new RegExp(`hop 1  ${dir}/vol/token -> \\.\\.data/token = ${dir}/vol/${TS.replace(/\./g, '\\.')}/token`));
  assert.match(out, /hop 2 {2}.*\/vol\/\.\.data -> \.\.2026/);
  assert.match(out, /inode {2}\d+ {2}dev \d+:\d+ \(kernel \d+\) {2}file/);
  assert.match(out, /mount {2}\S+ \S+ on \//);
  assert.match(out, new RegExp(`not resolved: missing: no 'nope' in ${dir} \\(the watch waits there`));
});

test('bad input: one line each, exit 2, the other paths still explained', async () => {
  const r = await hive(['explain', '--json', 'relative/x', path.join(dir, 'vol/token')]);
  assertOneLineError(r, /^hive explain: relative\/x: invalid path: relative path: paths must be absolute/);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.paths.map((p: any) => p.state), ['invalid', 'ok']);
  assertOneLineError(await hive(['explain']), /^hive explain: no paths given; usage: hive explain/);
  assertOneLineError(await hive(['explain', '--pid', '1', '--container', 'x', '/a']), /--pid or --container, not both/);
  assertOneLineError(await hive(['explain', '--pid', '4194303', '/etc/passwd']), /^hive explain: no process 4194303 in \/proc/);
  const help = await hive(['explain', '--help']);
  assert.match(help.stdout, /Attaches nothing, loads no BPF: needs no capability beyond reading the root/);
});

test('a link target or file name with an escape sequence or a newline is printed escaped, one line each (SECURITY-REVIEW L1)', { skip }, async () => {
  const evil = path.join(dir, 'evil');
  fs.mkdirSync(evil);
  fs.writeFileSync(path.join(evil, 'x\u001b[2K\nroot: (forged)'), '');
  fs.symlinkSync('x\u001b[2K\nroot: (forged)', path.join(evil, 'link'));
  const r = await hive(['explain', path.join(evil, 'link'), path.join(evil, '*')], { noCaps: true });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /\u001b/);
  assert.equal(r.stdout.split('\n').filter((l) => l.includes('(forged)')).every((l) => l.includes('x\\x1b[2K\\x0aroot: (forged)')), true, r.stdout);
  assert.equal((r.stdout.match(/^root /gm) ?? []).length, 1, r.stdout);
  // JSON stays exact
  const j = await hive(['explain', '--json', path.join(evil, 'link')], { noCaps: true });
  assert.equal(JSON.parse(j.stdout).paths[0].files[0].final, path.join(evil, 'x\u001b[2K\nroot: (forged)'));
});
