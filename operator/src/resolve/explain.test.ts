// hive explain's resolution walk against a real directory tree standing in for
// a container root: a projected volume's ..data chain, symlinks that would
// leave the root (shown confined, never the host's file), a missing
// component, a loop, globs; the mount and overlay layer from a mountinfo
// written for the tree (the real-containerd suite checks a real overlay).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { explainPattern, explainPatterns, hopText, mountText } from './explain';
import { mountOf, parseMountinfo } from './mountinfo';
import { formatDev, kernelDevFromStat } from '../sys/devnum';

let root: string;
let outside: string;
let proc: string;
let layers: string;
const TOKEN_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TS = '..2026_12_02_10_00_00.123456789';

const st = (p: string) => fs.statSync(p, { bigint: true });
const devOf = (p: string) => formatDev(kernelDevFromStat(st(p).dev));

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-explain-'));
  outside = `${root}-outside`;
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'shadow'), 'host only');
  const r = (p: string) => path.join(root, p);
  // a projected service-account volume, as the kubelet lays it out
  fs.mkdirSync(r(`${TOKEN_DIR}/${TS}`), { recursive: true });
  for (const f of ['token', 'ca.crt', 'namespace']) {
    fs.writeFileSync(r(`${TOKEN_DIR}/${TS}/${f}`), f);
    fs.symlinkSync(`..data/${f}`, r(`${TOKEN_DIR}/${f}`));
  }
  fs.symlinkSync(TS, r(`${TOKEN_DIR}/..data`));
  fs.mkdirSync(r('etc/ssl'), { recursive: true });
  fs.writeFileSync(r('etc/shadow'), 'container shadow');
  fs.writeFileSync(r('etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  for (let i = 0; i < 3; i++) fs.writeFileSync(r(`etc/ssl/c${i}.pem`), '');
  // escapes, as an image could ship them
  fs.mkdirSync(r('app/conf'), { recursive: true });
  fs.symlinkSync('../../../../etc/shadow', r('app/conf/shadow'));
  fs.symlinkSync(path.join(outside, 'shadow'), r('app/conf/host-shadow'));
  fs.symlinkSync('/etc/passwd', r('app/conf/passwd'));
  // a loop and a file where a directory should be
  fs.symlinkSync('b', r('app/a'));
  fs.symlinkSync('a', r('app/b'));
  fs.mkdirSync(r('var/lib'), { recursive: true });
  // a mountinfo as the root's process would show it: the root an overlay
  // whose layers are real directories here, a tmpfs on /var/run
  layers = `${root}-layers`;
  for (const d of ['upper/etc', 'l0/etc', 'l1/etc/ssl']) fs.mkdirSync(path.join(layers, d), { recursive: true });
  fs.writeFileSync(path.join(layers, 'upper/etc/shadow'), '');
  fs.writeFileSync(path.join(layers, 'l0/etc/shadow'), '');
  fs.writeFileSync(path.join(layers, 'l1/etc/ssl/c0.pem'), '');
  proc = `${root}-proc`;
  fs.mkdirSync(proc);
  const dev = devOf(root);
  fs.writeFileSync(
    path.join(proc, 'mountinfo'),
    [
      `100 90 ${dev} / / rw,relatime - overlay overlay rw,lowerdir=${layers}/l0:${layers}/l1,upperdir=${layers}/upper,workdir=${layers}/work`,
      `101 100 ${dev} /pods/x/volumes ${TOKEN_DIR.replace(/ /g, '\\040')} ro,relatime - tmpfs tmpfs rw,size=1024k`,
    ].join('\n') + '\n',
  );
});
after(() => {
  for (const d of [root, outside, proc, layers]) fs.rmSync(d, { recursive: true, force: true });
});

const opts = () => ({ procDir: proc, hostRoot: '/' });

test('a projected token: token -> ..data/token, ..data -> the timestamped directory', () => {
  const e = explainPattern(root, `${TOKEN_DIR}/token`, opts());
  assert.equal(e.state, 'ok');
  assert.equal(e.kind, 'path');
  const [f] = e.files;
  assert.equal(f.ino, st(path.join(root, TOKEN_DIR, TS, 'token')).ino.toString());
  assert.equal(f.final, `${TOKEN_DIR}/${TS}/token`);
  assert.deepEqual(
    f.hops.map((h) => [h.link, h.target, h.to]),
    [
      [`${TOKEN_DIR}/token`, '..data/token', `${TOKEN_DIR}/${TS}/token`],
      [`${TOKEN_DIR}/..data`, TS, `${TOKEN_DIR}/${TS}`],
    ],
  );
  assert.equal(f.mount?.fsType, 'tmpfs', 'the deepest mount above the file');
  assert.equal(f.mount?.mountPoint, TOKEN_DIR);
  assert.equal(f.mount?.devMismatch, undefined);
  assert.equal(f.dev, devOf(path.join(root, TOKEN_DIR, TS, 'token')));
});

test("a '..' symlink that would climb out is confined to the root: the root's file, never the host's", () => {
  const e = explainPattern(root, '/app/conf/shadow', opts());
  assert.equal(e.state, 'ok');
  const [f] = e.files;
  assert.equal(f.final, '/etc/shadow');
  assert.equal(f.ino, st(path.join(root, 'etc/shadow')).ino.toString());
  assert.notEqual(f.ino, st('/etc/shadow').ino.toString());
  assert.equal(f.hops[0].climbsPastRoot, true);
  assert.match(hopText(f.hops[0], true), /app\/conf\/shadow -> \.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow = \/etc\/shadow \(confined: '\.\.' climbs past the root/);
  // the overlay's topmost layer holding etc/shadow is the upper one
  assert.deepEqual(f.mount?.overlay, { layer: 'upper', dir: `${layers}/upper` });
  const ssl = explainPattern(root, '/etc/ssl/c0.pem', opts()).files[0];
  assert.deepEqual(ssl.mount?.overlay, { layer: 'lower', index: 1, dir: `${layers}/l1` });
  assert.match(mountText(ssl.mount!), /^overlay overlay on \/, lower layer 1/);
  const none = explainPattern(root, '/etc/passwd', opts()).files[0];
  assert.equal(none.mount?.overlay?.layer, 'unknown');
});

test('absolute symlinks resolve from the root: one to a host file is missing inside, one to /etc/passwd is the root\'s', () => {
  const host = explainPattern(root, '/app/conf/host-shadow', opts());
  assert.equal(host.state, 'pending');
  assert.equal(host.files.length, 0, 'the host file is never named');
  assert.equal(host.hops[0].absolute, true);
  assert.match(hopText(host.hops[0], true), /confined: absolute target, resolved from the root/);
  assert.deepEqual(host.waitsFor, { dir: '/', name: outside.split('/')[1] });
  assert.match(host.reason!, /^missing: no '.+' in \/ \(the watch waits there/);
  const inside = explainPattern(root, '/app/conf/passwd', opts());
  assert.equal(inside.files[0].ino, st(path.join(root, 'etc/passwd')).ino.toString());
  assert.notEqual(inside.files[0].ino, st('/etc/passwd').ino.toString());
  assert.equal(inside.files[0].final, '/etc/passwd');
});

test('a missing component: where the watch waits', () => {
  const e = explainPattern(root, '/var/lib/app/token', opts());
  assert.equal(e.state, 'pending');
  assert.deepEqual(e.waitsFor, { dir: '/var/lib', name: 'app' });
  assert.equal(e.files.length, 0);
});

test('a loop, a file used as a directory, bad syntax: each says why', () => {
  const loop = explainPattern(root, '/app/a', opts());
  assert.equal(loop.state, 'error');
  assert.match(loop.reason!, /^symlink loop: too many levels of symbolic links/);
  assert.equal(loop.hops.length, 40, 'the kernel\'s limit of hops');
  const notDir = explainPattern(root, '/etc/passwd/x', opts());
  assert.equal(notDir.state, 'error');
  assert.match(notDir.reason!, /^not a directory: \/etc\/passwd is not a directory/);
  const [rel, dots, ok] = explainPatterns(root, ['etc/passwd', '/etc/../passwd', '/etc/passwd'], opts());
  assert.match(rel.reason!, /^invalid path: relative path/);
  assert.match(dots.reason!, /^invalid path: path contains a '\.\.' component/);
  assert.equal(ok.state, 'ok', 'one bad path never stops the others');
});

test('globs: every match explained, capped as a watch is, and a glob with no match says where it waits', () => {
  const g = explainPattern(root, '/etc/ssl/*.pem', opts());
  assert.equal(g.kind, 'glob');
  assert.deepEqual(g.files.map((f) => f.path), ['/etc/ssl/c0.pem', '/etc/ssl/c1.pem', '/etc/ssl/c2.pem']);
  const cut = explainPattern(root, '/etc/ssl/*.pem', { ...opts(), maxMatches: 2 });
  assert.equal(cut.files.length, 2);
  assert.deepEqual(cut.truncated, { seen: 3, limit: 2 });
  const links = explainPattern(root, `${TOKEN_DIR}/*`, opts());
  // the glob matches the links (not following them while matching); each is re-opened in the root
  assert.deepEqual(links.files.map((f) => [f.path, f.hops.length]).sort(), [
    [`${TOKEN_DIR}/${TS}`, 0],
    [`${TOKEN_DIR}/..data`, 1],
    [`${TOKEN_DIR}/ca.crt`, 2],
    [`${TOKEN_DIR}/namespace`, 2],
    [`${TOKEN_DIR}/token`, 2],
  ]);
  const none = explainPattern(root, '/etc/ssl/*.key', opts());
  assert.equal(none.state, 'pending');
  assert.match(none.reason!, /glob matched nothing \(the watch waits in \/etc\/ssl/);
  assert.deepEqual(none.waitsFor, { dir: '/etc/ssl', name: '*.key' });
});

test('a directory: itself and its entries, the ..data links followed', () => {
  const d = explainPattern(root, TOKEN_DIR, opts());
  assert.equal(d.kind, 'directory');
  assert.deepEqual(d.files.map((f) => f.path), [TOKEN_DIR, `${TOKEN_DIR}/ca.crt`, `${TOKEN_DIR}/namespace`, `${TOKEN_DIR}/token`]);
  assert.equal(d.files[0].mount?.overlay, undefined, 'a directory merges layers: no single layer');
});

test('mountinfo: escapes decoded, the deepest and last mount wins', () => {
  const m = parseMountinfo(
    [
      '22 1 0:21 / / rw - ext4 /dev/sda1 rw',
      '23 22 0:22 / /run rw shared:5 - tmpfs tmpfs rw',
      '24 23 0:23 / /run/my\\040dir rw - tmpfs none rw',
      '25 22 0:24 / /run rw - tmpfs second rw',
    ].join('\n'),
  );
  assert.equal(m[2].mountPoint, '/run/my dir');
  assert.equal(mountOf(m, '/run/my dir/x')?.dev, '0:23');
  assert.equal(mountOf(m, '/run/x')?.source, 'second', 'the later mount on the same point hides the earlier');
  assert.equal(mountOf(m, '/runx')?.dev, '0:21');
});
