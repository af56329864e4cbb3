// One meaning of paths, directories and globs, and the dependencies that make a
// watch follow its path, against a real directory tree standing in for a
// container root (the real-kernel and real-containerd suites check the same
// with watches in the kernel).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { ANY_NAME, resolvePattern } from './pattern';
import { traverse } from './traverse';

let root: string;
let outside: string;

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-pattern-'));
  outside = `${root}-outside`;
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'conf'), 'host only');
  // a ConfigMap volume as kubelet lays it out
  const vol = path.join(root, 'etc/config');
  fs.mkdirSync(path.join(vol, '..2026_12_01_10_00_00.123'), { recursive: true });
  fs.writeFileSync(path.join(vol, '..2026_12_01_10_00_00.123/key'), 'v1');
  fs.symlinkSync('..2026_12_01_10_00_00.123', path.join(vol, '..data'));
  fs.symlinkSync('..data/key', path.join(vol, 'key'));
  fs.mkdirSync(path.join(root, 'etc/conf.d'));
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(root, `etc/conf.d/c${i}.conf`), '');
  fs.mkdirSync(path.join(root, 'etc/conf.d/sub'));
  fs.symlinkSync(`/../../../../${outside}`, path.join(root, 'escape'));
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const ino = (p: string) => fs.statSync(p, { bigint: true }).ino;

test('a ConfigMap key resolves through ..data, and depends on every entry on the way', () => {
  const r = resolvePattern(root, '/etc/config/key');
  assert.equal(r.state, 'ok');
  assert.deepEqual(r.files.map((f) => f.ino), [ino(path.join(root, 'etc/config/..2026_12_01_10_00_00.123/key'))]);
  assert.deepEqual([...r.deps.get('/etc/config')!].sort(), ['..2026_12_01_10_00_00.123', '..data', 'key']);
  assert.deepEqual([...r.deps.get('/etc/config/..2026_12_01_10_00_00.123')!], ['key']);
  assert.deepEqual([...r.deps.get('/')!], ['etc']);
});

test('a directory: itself and its non-directory entries, symlinks followed inside the root', () => {
  const r = resolvePattern(root, '/etc/config');
  assert.equal(r.state, 'ok');
  assert.deepEqual(r.files.map((f) => f.path), ['/etc/config', '/etc/config/key']);
  assert.ok(r.deps.get('/etc/config')!.has(ANY_NAME));
  const d = resolvePattern(root, '/etc/conf.d', { maxMatches: 2 });
  assert.equal(d.files.length, 3, 'the directory + the cap');
  assert.deepEqual(d.truncated, { seen: 4, limit: 2 });
});

test('a glob matches exactly, is capped and reported, and listens to its directory', () => {
  const r = resolvePattern(root, '/etc/conf.d/*.conf');
  assert.equal(r.files.length, 4);
  assert.ok(r.deps.get('/etc/conf.d')!.has(ANY_NAME));
  const cut = resolvePattern(root, '/etc/conf.d/*.conf', { maxMatches: 3 });
  assert.equal(cut.files.length, 3);
  assert.deepEqual(cut.truncated, { seen: 4, limit: 3 });
  const deep = resolvePattern(root, '/etc/*/c1.conf');
  assert.deepEqual(deep.files.map((f) => f.path), ['/etc/conf.d/c1.conf']);
  assert.ok(deep.deps.get('/etc/conf.d')!.has(ANY_NAME), 'every directory level the glob walks');
  assert.ok(deep.deps.get('/etc/config')!.has(ANY_NAME));
  const none = resolvePattern(root, '/etc/conf.d/*.yaml');
  assert.equal(none.state, 'pending');
});

test("'dir/*' (listed directly) names what any other every-name glob names through fast-glob: dot files, directories, symlinks in and out", () => {
  const d = path.join(root, 'etc/mixed');
  fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
  for (const n of ['b', '.hidden', 'a b', 'Z']) fs.writeFileSync(path.join(d, n), '');
  fs.symlinkSync('b', path.join(d, 'link'));
  fs.symlinkSync('/escape/conf', path.join(d, 'out'));
  fs.symlinkSync('nowhere', path.join(d, 'dangling'));
  const fast = resolvePattern(root, '/etc/mixed/*');
  const viaGlob = resolvePattern(root, '/etc/mixed/?*'); // every name of one or more characters: fast-glob's path
  const seen = (r: typeof fast) => r.files.map((f) => `${f.path} ${f.ino}`);
  assert.deepEqual(fast.files.map((f) => f.path.replace('/etc/mixed/', '')), ['.hidden', 'Z', 'a b', 'b', 'link', 'sub']);
  assert.deepEqual(seen(fast), seen(viaGlob));
  assert.deepEqual([...fast.deps].map(([k, v]) => [k, [...v].sort()]), [...viaGlob.deps].map(([k, v]) => [k, [...v].sort()]));
  const cut = resolvePattern(root, '/etc/mixed/*', { maxMatches: 2 });
  assert.deepEqual(cut.truncated, resolvePattern(root, '/etc/mixed/?*', { maxMatches: 2 }).truncated);
});

test('a missing path is pending and waits on the first missing component', () => {
  const r = resolvePattern(root, '/var/lib/app/token');
  assert.equal(r.state, 'pending');
  assert.match(r.reason!, /no such file or directory/);
  assert.deepEqual([...r.deps.get('/')!].sort(), ['var']);
  assert.equal(traverse(root, '/var/lib/app/token').missing?.name, 'var');
});

test('symlinks never lead out of the root, in the walk or in the resolution', () => {
  const t = traverse(root, '/escape/conf');
  // the target restarts at the root: its first component is looked up in the root's '/'
  assert.deepEqual(t.missing, { dir: '/', name: outside.split('/')[1] });
  for (const dir of t.deps.keys()) assert.ok(!dir.includes('..'), dir);
  const r = resolvePattern(root, '/escape/conf');
  assert.equal(r.state, 'pending', 'resolves inside the root, where nothing is');
  assert.equal(r.files.length, 0);
  assert.equal(resolvePattern(root, '/etc/../x').state, 'invalid');
  assert.equal(resolvePattern('/nonexistent-root', '/x').state, 'error');
});
