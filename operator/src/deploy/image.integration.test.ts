// The agent image as a user's node gets it: built from the project's
// Dockerfile by docker-build.sh --builder podman over the local base images of
// test/node/base-images.sh (no registry), imported into a real containerd and
// run through CRI the way the kubelet runs the DaemonSet's container
// (privileged, host PID and network, the manifest's host mounts). Inside the
// image the entrypoint answers, and the addon, libbpf and both BPF objects load
// and attach on this kernel: a shared library missing from the runtime stage
// fails here (the last test shows it would).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { ContainerdHarness, containerdSkip } from '../testing/containerd-harness';
import { kernelSkip } from '../testing/kernel';
import { commandSkip } from '../testing/require';
import type { PodSandboxConfig } from '../generated/proto/runtime/v1/PodSandboxConfig';
import type { ContainerConfig } from '../generated/proto/runtime/v1/ContainerConfig';

const ROOT = path.resolve(__dirname, '../../..');
const IMAGE = 'localhost/hive-agent:integration-test';
// cold: both base images from Debian packages, then the whole build stage
const BUILD_TIMEOUT_MS = 40 * 60_000;

const skip = containerdSkip() || kernelSkip() || commandSkip(['podman', 'mmdebstrap'], 'make deps installs podman and mmdebstrap');

/** Runs a build step, its output kept for the failure message; seconds taken. */
function step(what: string, cmd: string, args: string[]): { seconds: number; stdout: string; stderr: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 << 20, timeout: BUILD_TIMEOUT_MS });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
  return { seconds, stdout: r.stdout, stderr: r.stderr };
}

/** stdout and stderr of a CRI log file (lines "<time> <stream> <P|F> <text>"). */
function readCriLog(file: string): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\S+ (stdout|stderr) ([PF]) (.*)$/.exec(line);
    if (m) out[m[1] as 'stdout' | 'stderr'] += m[3] + (m[2] === 'F' ? '\n' : '');
  }
  return out;
}

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

describe('the agent image (Dockerfile, podman, containerd)', { skip, timeout: BUILD_TIMEOUT_MS + 5 * 60_000 }, () => {
  let h: ContainerdHarness;
  let sandboxId: string;
  let sandbox: PodSandboxConfig;
  let logDir: string;
  let n = 0;
  const figures: string[] = [];

  before(async () => {
    const base = step('test/node/base-images.sh', 'bash', ['test/node/base-images.sh']);
    figures.push(`base images ready in ${base.seconds.toFixed(1)} s`);
    h = await ContainerdHarness.start();
    const refFile = path.join(h.dir, 'image-ref');
    const build = step('docker-build.sh --builder podman', 'bash', [
      'docker-build.sh', '--builder', 'podman', '--tag', IMAGE.split(':')[1], '--import-to', h.socket, '--ref-file', refFile,
    ]);
    // what docker-build.sh says it built and imported, with its figures
    for (const l of build.stderr.split('\n').filter((l) => /^docker-build\.sh: (built|imported)/.test(l))) figures.push(l);
    figures.push(`build + save + import: ${build.seconds.toFixed(1)} s`);
    assert.equal(build.stdout.trim().split('\n').pop(), IMAGE, 'the reference printed last');
    assert.equal(fs.readFileSync(refFile, 'utf8').trim(), IMAGE, 'the reference written for make deploy');
    const size = Number(step('podman image inspect', 'podman', ['image', 'inspect', '--format', '{{.Size}}', IMAGE]).stdout);
    figures.push(`image size ${(size / 1e6).toFixed(0)} MB (podman, uncompressed)`);

    // the DaemonSet's pod: host PID and network, privileged
    const uid = crypto.randomUUID();
    logDir = path.join(h.dir, 'logs', uid);
    fs.mkdirSync(logDir, { recursive: true });
    sandbox = {
      metadata: { name: 'hive-agent-image', uid, namespace: 'hive-system', attempt: 0 },
      log_directory: logDir,
      linux: { security_context: { privileged: true, namespace_options: { network: 'NODE', pid: 'NODE', ipc: 'POD' } } },
    };
    sandboxId = await h.cri.runPodSandbox(sandbox);
  });
  after(async () => {
    if (sandboxId) {
      await h.cri.stopPodSandbox(sandboxId).catch(() => undefined);
      await h.cri.removePodSandbox(sandboxId).catch(() => undefined);
    }
    await h?.stop();
  });

  /** One container of the image in the pod, run to its end: args go to the image's entrypoint, command replaces it. */
  async function run(spec: { args?: string[]; command?: string[] }, timeoutMs = 60_000): Promise<Run> {
    const name = `c${n++}`;
    const config: ContainerConfig = {
      metadata: { name, attempt: 0 },
      image: { image: IMAGE },
      ...spec,
      log_path: `${name}.log`,
      linux: { security_context: { privileged: true, namespace_options: { network: 'NODE', pid: 'NODE', ipc: 'POD' } } },
      // the manifest's hostPath mounts (config/agent/daemonset.yaml)
      mounts: [
        { host_path: '/proc', container_path: '/host/proc', readonly: true },
        { host_path: '/sys/fs/bpf', container_path: '/sys/fs/bpf' },
        { host_path: '/sys/kernel/btf', container_path: '/sys/kernel/btf', readonly: true },
        { host_path: '/sys/kernel/tracing', container_path: '/sys/kernel/tracing' },
      ],
    };
    const id = await h.cri.createContainer(sandboxId, config, sandbox);
    try {
      await h.cri.startContainer(id);
      const deadline = Date.now() + timeoutMs;
      let exitCode: number | null = null;
      while ((exitCode = await h.cri.containerExitCode(id)) === null) {
        if (Date.now() > deadline) throw new Error(`container ${JSON.stringify(spec)} still running after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return { exitCode, ...readCriLog(path.join(logDir, config.log_path!)) };
    } finally {
      await h.cri.removeContainer(id).catch(() => undefined);
    }
  }

  test('containerd knows the image by the reference docker-build.sh printed', (t) => {
    for (const f of figures) t.diagnostic(f);
    const names = h.ctr('images', 'ls', '-q').split('\n');
    assert.ok(names.includes(IMAGE), names.join(' '));
  });

  test('the entrypoint is hive: --version prints package.json version', async () => {
    const r = await run({ args: ['--version'] });
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), `hive ${version}`);
  });

  test('hive probe in the image loads the addon, libbpf and fileaccess.bpf.o and attaches a mode', async () => {
    const r = await run({ args: ['probe'] });
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { btf: boolean; libbpf: string; auto: string | null; modes: Record<string, { supported: boolean; reason?: string }> };
    assert.match(report.libbpf, /^v1\.\d+$/, 'the runtime image libbpf reports its version');
    assert.equal(report.btf, true, 'BTF through the mounted /sys/kernel/btf');
    assert.ok(report.auto, `no attach mode works in the image: ${JSON.stringify(report.modes)}`);
    assert.equal(report.modes[report.auto].supported, true);
  });

  test('the network monitor loads netmon.bpf.o and attaches its tracepoint in the image', async () => {
    const script =
      "const { NetMonitor } = require('/opt/hive/operator/dist/netmon/net-monitor');" +
      "const m = NetMonitor.open(); m.close(); console.log('netmon loaded');";
    const r = await run({ command: ['node', '-e', script] });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'netmon loaded');
  });

  test('every shared library of node and the addon resolves in the runtime image', async () => {
    const r = await run({ command: ['sh', '-c', 'ldd /usr/local/bin/node /opt/hive/operator/native/build/Release/hive_native.node'] });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /not found/);
    assert.match(r.stdout, /libbpf\.so\.1 => \S+/, 'the addon links the image libbpf');
  });

  test('the runtime image has no tests, benchmarks or compilers', async () => {
    const r = await run({
      command: [
        'sh', '-c',
        'find /opt/hive/operator/dist \\( -name "*.test.js" -o -name testing -o -name bench \\) -print; ls /opt/hive/build/bpf; ' +
          'for c in clang gcc cc make bpftool; do command -v $c; done; true',
      ],
    });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['fileaccess-noagg.bpf.o', 'fileaccess.bpf.o', 'netmon.bpf.o']);
  });

  test('a missing shared library fails the probe (what the checks above would catch)', async () => {
    const r = await run({
      command: ['sh', '-c', 'rm -f /usr/lib/*/libbpf.so.1* && exec node /opt/hive/operator/dist/cli/hive.js probe'],
    });
    assert.notEqual(r.exitCode, 0, r.stdout);
    assert.match(r.stdout + r.stderr, /libbpf\.so\.1/);
  });
});
