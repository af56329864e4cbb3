// The deploy path's files, checked without Docker (this machine has none):
// shellcheck on every script, each script's --help and prerequisite check,
// the Dockerfile linted (dockerfile-utils: Debian has no hadolint) and held
// to what the image must be, and `hive logs` rendering of recorded agent
// output. The cluster side is in deploy.cluster.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { validate } from 'dockerfile-utils';
import { renderAgentLine } from '../cli/render-log';
import { commandSkip } from '../testing/require';

const ROOT = path.resolve(__dirname, '../../..');
const SCRIPTS = ['registry-cluster.sh', 'delete-cluster.sh', 'docker-build.sh'];

function allScripts(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.sh'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  return out;
}

test('shellcheck passes on every shell script of the repository', { skip: commandSkip(['shellcheck'], 'make deps') }, () => {
  const scripts = allScripts();
  for (const s of SCRIPTS) assert.ok(scripts.includes(s), `${s} is tracked`);
  const r = spawnSync('shellcheck', ['--severity=style', ...scripts], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('each deploy script answers --help with its usage and refuses unknown arguments', () => {
  for (const s of SCRIPTS) {
    const help = spawnSync('bash', [path.join(ROOT, s), '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, `${s} --help`);
    assert.match(help.stdout, new RegExp(`^usage: ${s.replace('.', '\\.')}`), s);
    const bad = spawnSync('bash', [path.join(ROOT, s), '--frobnicate'], { encoding: 'utf8' });
    assert.equal(bad.status, 2, `${s} with a bad argument`);
    assert.match(bad.stderr, new RegExp(`${s.replace('.', '\\.')}: unknown argument '--frobnicate'`));
  }
});

test('without docker, kind and kubectl the scripts name each missing tool and exit 3', () => {
  // A PATH with the basic tools only (this machine has no docker or kind anyway;
  // kubectl may exist, so it is kept out the same way).
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-path-'));
  try {
    for (const t of ['bash', 'basename', 'dirname', 'cat', 'git', 'grep', 'mkdir', 'printf']) {
      const where = execFileSync('bash', ['-c', `command -v ${t}`], { encoding: 'utf8' }).trim();
      fs.symlinkSync(where, path.join(bin, t));
    }
    const run = (s: string) => spawnSync(path.join(bin, 'bash'), [path.join(ROOT, s)], { encoding: 'utf8', env: { PATH: bin } });
    const rc = run('registry-cluster.sh');
    assert.equal(rc.status, 3);
    assert.deepEqual(rc.stderr.trim().split('\n').map((l) => /'(\w+)' is not on PATH/.exec(l)?.[1]), ['docker', 'kind', 'kubectl']);
    const del = run('delete-cluster.sh');
    assert.equal(del.status, 3);
    assert.match(del.stderr, /'docker' is not on PATH/);
    const build = run('docker-build.sh');
    assert.equal(build.status, 3);
    assert.match(build.stderr, /^docker-build\.sh: 'docker' is not on PATH: install Docker/);
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
});

interface Stage {
  from: string;
  lines: string[];
}

function stages(dockerfile: string): Stage[] {
  const out: Stage[] = [];
  // join continuation lines, drop comments
  const logical = dockerfile.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  for (const l of logical) {
    const m = /^FROM\s+(\S+)/i.exec(l);
    if (m) out.push({ from: m[1], lines: [] });
    else out[out.length - 1]?.lines.push(l.trim());
  }
  return out;
}

test('the Dockerfile lints clean and is the image the issue asks for', () => {
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  assert.deepEqual(validate(text), [], 'dockerfile-utils reports nothing');
  const [build, runtime, ...more] = stages(text);
  assert.equal(more.length, 0, 'two stages');
  assert.match(build.from, /^node:20-bookworm$/);
  assert.match(runtime.from, /^node:20-bookworm-slim$/, 'Debian bookworm based runtime');
  // the build stage runs the Makefile targets CI runs: the build deps in a layer that only the
  // Makefile and the npm files key (cached across source changes), then make build on the sources
  const deps = build.lines.findIndex((l) => /^RUN make deps-build\b/.test(l));
  const all = build.lines.indexOf('COPY . .');
  const make = build.lines.findIndex((l) => /^RUN .*\bmake build\b/.test(l));
  assert.ok(deps > 0 && all > deps && make > all, `RUN make deps-build, then COPY . ., then RUN … make build: ${build.lines.join(' | ')}`);
  assert.deepEqual(build.lines.slice(0, deps).filter((l) => l.startsWith('COPY')), ['COPY Makefile package.json package-lock.json ./']);
  const mk = fs.readFileSync(path.join(ROOT, 'Makefile'), 'utf8');
  assert.match(mk, /^build: deps-build /m, 'make build installs only the build deps');
  // runtime: libbpf's shared library, no compilers or headers
  const rt = runtime.lines.join('\n');
  assert.match(rt, /apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g/);
  assert.doesNotMatch(rt, /\b(clang|llvm|gcc|g\+\+|make|libbpf-dev|linux-headers\S*|bpftool)\b/);
  assert.match(rt, /^ENTRYPOINT \["node", "--max-semi-space-size=1", "\/opt\/hive\/operator\/dist\/cli\/hive\.js"\]$/m);
  assert.match(rt, /^CMD \["agent"\]$/m);
  // every file the runtime stage copies from the build stage is a build output that exists here
  for (const l of runtime.lines.filter((x) => x.startsWith('COPY --from=build'))) {
    const parts = l.split(/\s+/).slice(2, -1);
    for (const p of parts) {
      const rel = p.replace(/^\/src\//, '');
      if (rel === 'node_modules') continue; // pruned in the build stage
      assert.ok(fs.existsSync(path.join(ROOT, rel)), `${rel} is built by make build`);
    }
  }
  const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8');
  for (const p of ['node_modules', 'build', 'operator/dist']) assert.match(ignore, new RegExp(`^${p}$`, 'm'), `.dockerignore keeps host builds out: ${p}`);
});

test("the image ships no tests: the build stage deletes test files, testing/ and bench/ from what the runtime copies, and no bench.bpf.o", () => {
  const [build, runtime] = stages(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const runs = build.lines.filter((l) => l.startsWith('RUN ')).map((l) => l.slice(4));
  const prune = runs.findIndex((r) => r.includes('operator/dist') && r.includes('.test.js'));
  assert.ok(prune >= 0, 'a build-stage RUN removes the tests from operator/dist');
  assert.ok(prune > runs.findIndex((r) => /make build/.test(r)), 'after make build');
  assert.ok(runtime.lines.includes('COPY --from=build /src/operator/dist ./operator/dist'), 'the runtime copies the pruned operator/dist');
  // Run that step, as the build stage would, on a copy of this machine's build output.
  const dist = path.join(ROOT, 'operator/dist');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-image-'));
  try {
    fs.cpSync(dist, path.join(tmp, 'operator/dist'), { recursive: true });
    const r = spawnSync('bash', ['-euc', runs[prune]], { cwd: tmp, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const left = (fs.readdirSync(path.join(tmp, 'operator/dist'), { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/'));
    assert.deepEqual(left.filter((f) => /\.test\.js/.test(f)), [], 'no test files');
    assert.deepEqual(left.filter((f) => /^(testing|bench)(\/|$)/.test(f)), [], 'no testing/ or bench/');
    assert.ok(left.includes('cli/hive.js') && left.includes('cli/main.js') && left.includes('agent/agent.js'), 'the bundle, the agent and the CLI are still there');
    assert.ok(fs.readdirSync(dist, { recursive: true }).length > left.length, 'something was removed');
    // what is left never requires (or lazily imports) what was removed
    let seen = 0;
    for (const f of left.filter((x) => x.endsWith('.js'))) {
      const text = fs.readFileSync(path.join(tmp, 'operator/dist', f), 'utf8');
      for (const m of text.matchAll(/\b(?:require|import)\((["'])(\.{1,2}\/[^"']+)\1\)/g)) {
        const spec = m[2];
        seen++;
        const target = path.resolve(path.dirname(path.join(tmp, 'operator/dist', f)), spec);
        assert.ok([target, `${target}.js`, path.join(target, 'index.js')].some((t) => fs.existsSync(t)), `${f} needs ${spec}, which the image lacks`);
      }
    }
    assert.ok(seen > 100, `the module references were found (${seen})`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // nor the benchmarks' BPF object: make build does not build it, and the runtime copies
  // the agent's objects by name (never build/ or build/bpf/ whole)
  const mk = fs.readFileSync(path.join(ROOT, 'Makefile'), 'utf8');
  const objs = /^BPF_OBJS\s*:=(.*)$/m.exec(mk)?.[1].trim().split(/\s+/);
  assert.deepEqual(objs, ['$(BUILD)/bpf/fileaccess.bpf.o', '$(BUILD)/bpf/fileaccess-noagg.bpf.o', '$(BUILD)/bpf/netmon.bpf.o'], 'make build builds these BPF objects');
  assert.doesNotMatch(/^build:.*$/m.exec(mk)?.[0] ?? '', /bench|BENCH/, 'make build leaves the bench object out');
  const fromBuild = runtime.lines
    .filter((l) => l.startsWith('COPY --from=build'))
    .flatMap((l) => l.split(/\s+/).slice(2, -1))
    .filter((p) => p.startsWith('/src/build'));
  assert.deepEqual(fromBuild, ['/src/build/bpf/fileaccess.bpf.o', '/src/build/bpf/fileaccess-noagg.bpf.o', '/src/build/bpf/netmon.bpf.o'], 'the image has the agent\'s BPF objects only');
});

// Lines of the agent e2e test's output (its stdout events; the first line a log of its
// stderr, as kubectl logs mixes them), recorded from runs on this machine.
const RECORDED = [
  '{"level":30,"time":"2026-11-23T18:29:00.100Z","pid":7,"module":"agent","msg":"ready"}',
  '{"time":"2026-11-23T18:53:28.158Z","node":"node-1","kind":"file","path":"/etc/secret","inode":10463222,"dev":"0:49","access":["read"],"process":{"pid":11403,"tgid":11403,"ppid":11393,"uid":0,"gid":0,"comm":"cat"},"mode":"tracepoint","file_mode":"0100644","cgroup_id":"8917","aliases":["/etc/secret-hardlink"],"trace":{"namespace":"team-a","name":"secrets"},"pod":{"namespace":"team-a","name":"web-1","uid":"742d1b39-95f2-4622-8ffe-56ceea472c35"},"container":{"name":"app","id":"a1213991d62263a0cdebf1f27e25da14b8cce9e69df780500309468782eced9d"}}',
  '{"time":"2026-11-23T18:29:00.844Z","node":"node-1","kind":"network","event":"new","pod":{"namespace":"team-n","name":"net-1","uid":"d91b0516","ip":"10.203.1.2"},"src":{"ip":"10.203.1.2","port":42800},"dst":{"ip":"198.18.7.2","port":443},"proto":"tcp","verdict":"allowed","scope":"external","direction":"egress","packets":1,"bytes":74,"tx":{"packets":1,"bytes":74},"rx":{"packets":0,"bytes":0},"trace":{"namespace":"team-n","name":"egress"},"process":{"pid":3762,"tgid":3762,"uid":0,"comm":"node"},"interface":"he3088n"}',
  'not json at all',
];

test('hive logs renders recorded agent output like --pretty, and filters by kind, pod and trace', () => {
  const all = RECORDED.map((l) => renderAgentLine(l)).filter((x) => x !== null);
  assert.deepEqual(all, [
    'node-1 18:53:28.158 READ       /etc/secret (ino 10463222 dev 0:49) by cat[11403] uid=0 ppid=11393 pod=team-a/web-1 container=app via tracepoint',
    'node-1 18:29:00.844 NEW            tcp 10.203.1.2:42800 -> 198.18.7.2:443 external allowed pkts=1 bytes=74 by node[3762] uid=0 pod=team-n/net-1',
  ]);
  const only = (f: Parameters<typeof renderAgentLine>[1]) => RECORDED.map((l) => renderAgentLine(l, f)).filter((x) => x !== null).length;
  assert.equal(only({ kind: 'network' }), 1);
  assert.equal(only({ kind: 'file' }), 1);
  assert.equal(only({ pod: 'web-1' }), 1);
  assert.equal(only({ pod: 'team-n/net-1' }), 1);
  assert.equal(only({ pod: 'team-a/net-1' }), 0);
  assert.equal(only({ trace: 'team-a/secrets' }), 1);
  assert.equal(only({ trace: 'egress', kind: 'file' }), 0);
  assert.equal(renderAgentLine(RECORDED[2], { json: true }), RECORDED[2]);
});

test('hive logs --stdin renders what kubectl logs pipes in, with the same filters', () => {
  const main = path.join(ROOT, 'operator/dist/cli/hive.js');
  const r = spawnSync(process.execPath, [main, 'logs', '--stdin', '--kind', 'file'], { input: RECORDED.join('\n'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [renderAgentLine(RECORDED[1])]);
});
