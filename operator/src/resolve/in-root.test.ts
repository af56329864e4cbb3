// The resolver against a real directory tree standing in for a container root
// (the real-containerd suite checks the same against real containers).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { checkContainerPath } from './in-root';
import { resolvePattern } from './pattern';

const resolveAll = (r: string, patterns: string[], opts: { maxMatches?: number } = {}) => patterns.map((p) => resolvePattern(r, p, opts));

let root: string;
let hostSecret: string;

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-root-'));
  hostSecret = path.join(root, '..', `${path.basename(root)}-host-secret`);
  fs.writeFileSync(hostSecret, 'host only');
  fs.mkdirSync(path.join(root, 'etc/ssl'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/shadow-inside'), 'x');
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(root, `etc/ssl/c${i}.pem`), '');
  // escapes, as an image could ship them
  fs.symlinkSync(`/../../../../../../${hostSecret}`, path.join(root, 'etc/escape-dotdot'));
  fs.symlinkSync(hostSecret, path.join(root, 'etc/escape-abs'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'etc/passwd-link'));
  fs.symlinkSync(path.dirname(hostSecret), path.join(root, 'hostdir'));
  fs.linkSync(path.join(root, 'etc/passwd'), path.join(root, 'etc/passwd-hard'));
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(hostSecret, { force: true });
});

const ino = (p: string) => fs.statSync(p, { bigint: true }).ino;

test('path syntax: absolute, no .., no NUL, not empty', () => {
  assert.equal(checkContainerPath('/etc/passwd'), null);
  assert.match(checkContainerPath('etc/passwd')!, /relative path/);
  assert.match(checkContainerPath('/etc/../passwd')!, /'\.\.' component/);
  assert.match(checkContainerPath('/etc/pa\0sswd')!, /NUL/);
  assert.match(checkContainerPath('')!, /empty/);
});

test('a plain path resolves to the file inside the root', () => {
  const [r] = resolveAll(root, ['/etc/passwd']);
  assert.equal(r.state, 'ok');
  assert.equal(r.files[0].ino, ino(path.join(root, 'etc/passwd')));
});

test('symlinks that point outside resolve inside the root, never to the host file', () => {
  const res = resolveAll(root, ['/etc/escape-dotdot', '/etc/escape-abs', '/hostdir/' + path.basename(hostSecret)]);
  const hostIno = ino(hostSecret);
  for (const r of res) {
    assert.equal(r.state, 'pending', `${r.pattern}: ${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    for (const f of r.files) assert.notEqual(f.ino, hostIno);
  }
});

test('a symlink inside the root resolves to its target in the root; a hard link is the same inode', () => {
  const [link, hard] = resolveAll(root, ['/etc/passwd-link', '/etc/passwd-hard']);
  assert.equal(link.files[0].ino, ino(path.join(root, 'etc/passwd')));
  assert.equal(hard.files[0].ino, ino(path.join(root, 'etc/passwd')));
});

test('globs expand without following symlinks, bounded by the limit', () => {
  const [all] = resolveAll(root, ['/etc/ssl/*.pem']);
  assert.deepEqual(all.files.map((f) => f.path), [0, 1, 2, 3, 4].map((i) => `/etc/ssl/c${i}.pem`));
  assert.equal(all.truncated, undefined);
  const [cut] = resolveAll(root, ['/etc/ssl/*.pem'], { maxMatches: 3 });
  assert.equal(cut.files.length, 3);
  assert.deepEqual(cut.truncated, { seen: 5, limit: 3 });
  // the host directory behind /hostdir is never listed through the symlink
  const [through] = resolveAll(root, ['/hostdir/*']);
  assert.equal(through.state, 'pending');
  const [none] = resolveAll(root, ['/nothing/*.conf']);
  assert.equal(none.state, 'pending');
});

test('one bad or missing path never stops the others', () => {
  const res = resolveAll(root, ['relative', '/etc/../x', '/missing', '/etc/passwd']);
  assert.deepEqual(res.map((r) => r.state), ['invalid', 'invalid', 'pending', 'ok']);
});

test('a directory and a last-segment glob stat their entries in the resolved directory: escapes stay confined, links followed inside', () => {
  const hostIno = ino(hostSecret);
  for (const pattern of ['/etc', '/etc/*', '/etc/escape-*', '/etc/passwd*']) {
    const [r] = resolveAll(root, [pattern]);
    assert.equal(r.state, pattern === '/etc/escape-*' ? 'pending' : 'ok', pattern);
    for (const f of r.files) assert.notEqual(f.ino, hostIno, `${pattern}: ${f.path} is not the host's file`);
    const by = new Map(r.files.map((f) => [f.path, f.ino]));
    if (by.has('/etc/passwd-link')) assert.equal(by.get('/etc/passwd-link'), ino(path.join(root, 'etc/passwd')), 'an absolute link inside the root is followed inside it');
    if (by.has('/etc/passwd-hard')) assert.equal(by.get('/etc/passwd-hard'), ino(path.join(root, 'etc/passwd')));
  }
  // the escaping links name nothing inside the root: not watched
  const [g] = resolveAll(root, ['/etc/escape-*']);
  assert.deepEqual(g.files.map((f) => f.path), []);
  assert.equal(g.state, 'pending');
  const [d] = resolveAll(root, ['/etc']);
  assert.deepEqual(
    d.files.map((f) => f.path).sort(),
    ['/etc', '/etc/passwd', '/etc/passwd-hard', '/etc/passwd-link', '/etc/shadow-inside'],
  );
  // through a symlinked directory (resolved in the root first)
  fs.symlinkSync('/etc/ssl', path.join(root, 'certs'));
  try {
    const [c] = resolveAll(root, ['/certs/*.pem']);
    assert.deepEqual(c.files.map((f) => f.ino), [0, 1, 2, 3, 4].map((i) => ino(path.join(root, `etc/ssl/c${i}.pem`))));
  } finally {
    fs.unlinkSync(path.join(root, 'certs'));
  }
});

test('statInRoot with a directory refuses names that are not plain entries', async () => {
  const { native } = await import('../sys/addon.js');
  for (const bad of ['a/b', '..', '.', '']) assert.throws(() => native().statInRoot(root, [bad], '/etc'), /statInRoot: paths\[0\] must be a name in dir/);
  const [missing, ok] = native().statInRoot(root, ['nope', 'passwd'], '/etc');
  assert.equal(missing.errno, os.constants.errno.ENOENT);
  assert.equal('ino' in ok ? ok.ino : ok.errno, ino(path.join(root, 'etc/passwd')));
  assert.equal(native().statInRoot(root, ['passwd'], '/no-such-dir')[0].errno, os.constants.errno.ENOENT);
});

test('a NUL byte in a path, the root or the directory is refused, never cut short to the part before it (SECURITY-REVIEW L4)', async () => {
  const { native } = await import('../sys/addon.js');
  assert.throws(() => native().statInRoot(root, ['/etc/passwd\0.bak']), /statInRoot: paths\[0\] must not contain a NUL byte/);
  assert.throws(() => native().statInRoot(root, ['passwd\0x'], '/etc'), /statInRoot: paths\[0\] must not contain a NUL byte/);
  assert.throws(() => native().statInRoot(`${root}\0/x`, ['/etc/passwd']), /statInRoot: root must not contain a NUL byte/);
  assert.throws(() => native().statInRoot(root, ['passwd'], '/etc\0/x'), /statInRoot: dir must not contain a NUL byte/);
});
