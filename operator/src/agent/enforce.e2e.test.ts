// spec.action end to end: a real API server, a real containerd (the harness,
// the test as kubelet), a real `hive agent` and a real kernel, once per mode
// in HIVE_TEST_AGENT_MODES (default: auto, which on this host is tracepoint,
// a mode that can kill the opener and cannot deny; the qemu kernel matrix runs
// it in lsm and fentry, which deny with EPERM, against an API server on the
// host). An enforcing trace in namespace A stops A's `cat` of the watched
// file (through a hard link and a symlink too) and nothing in namespace B
// (same image, same path, an audit trace there), while A's other files stay
// readable; audit first (spec.enforce: false) and the agent's --enforce=false
// make the same reads live, with would-deny events counted per verdict; an
// action the mode cannot apply is audited as would-deny and the node says
// EnforcementUnavailable; SIGKILL to the agent restores access (its programs
// go with its fds); a shell of A's that names itself kubelet is not exempted
// by the next agent (SECURITY-REVIEW H1). A host file both pods mount
// (hostPath) is stopped for A's trace's pod only: B's pod and the host read
// it, and A's trace reports who did (SECURITY-REVIEW M1, M8).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { TestCluster, clusterSkip, freePort } from '../testing/cluster';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { TIME_SCALE, kernelSkip, waitFor } from '../testing/kernel';
import { until as poll } from '../testing/node';
import { AgentProcess, runningPodStatus, startAgent, total } from '../testing/agent-process';
import { MODE_ENFORCEMENT } from '../fileaccess/action';
import { ModeOption, parseMode } from '../fileaccess/modes';

const SECRET = '/etc/secret';
const skip = clusterSkip() || containerdSkip() || kernelSkip();
const agentModes = (process.env.HIVE_TEST_AGENT_MODES ?? 'auto').split(',').filter(Boolean).map(parseMode);

for (const requested of agentModes) enforceSuite(requested);

/* eslint-disable @typescript-eslint/no-explicit-any */
function enforceSuite(requested: ModeOption): void {
  // own node and namespaces per mode: the matrix runs every mode against one API server
  const NODE = `enforce-${requested}`;
  const NS_A = `enf-a-${requested}`;
  const NS_B = `enf-b-${requested}`;
  const modeArgs = requested === 'auto' ? [] : ['--mode', requested];
  const agentArgs = ['--resync-interval', '3600', '--status-interval', '2', ...modeArgs];

  describe(`HiveTrace spec.action through the agent (mode ${requested})`, { skip, concurrency: 1 }, () => {
    let cluster: TestCluster;
    let h: ContainerdHarness;
    let agent: AgentProcess;
    const pods: Record<string, Pod> = {};
    /** A host directory both pods mount at /shared (a hostPath volume). */
    let shared = '';

    const ok = (method: string, p: string, body?: unknown, contentType?: string) => cluster.ok(method, p, body, contentType);
    const tracePath = (ns: string, name: string) => `/apis/hive.io/v1alpha1/namespaces/${ns}/hivetraces/${name}`;
    const patchSpec = (spec: Record<string, unknown>) => ok('PATCH', tracePath(NS_A, 'guard'), JSON.stringify({ spec }), 'application/merge-patch+json');
    const until = (ns: string, name: string, pred: (e: any) => boolean, what: string) => cluster.untilTraceNodeStatus(ns, name, NODE, pred, what, 200 * TIME_SCALE);
    const exec = async (ns: string, cmd: string[]) => h.cri.execSync(pods[ns].containers[0].id, cmd);
    const cat = async (ns: string, file = SECRET) => exec(ns, ['cat', file]);
    /** The file events of `trace` from the first `cat` after `mark`. */
    const catEvents = async (mark: number, trace: string) => {
      await waitFor(() => agent.events.slice(mark).some((e) => e.kind === 'file' && e.trace?.name === trace && e.process?.comm === 'cat'), 5000, `an event of ${trace} for the cat`);
      return agent.events.slice(mark).filter((e) => e.kind === 'file' && e.trace?.name === trace && e.process?.comm === 'cat');
    };
    const mode = () => agent.logs.find((l) => l.msg === 'ready')?.mode as keyof typeof MODE_ENFORCEMENT;
    /** What this mode can do to an access: kill, deny, or nothing (null). */
    const can = () => MODE_ENFORCEMENT[mode()];
    /** How a `cat` the mode stopped ends: SIGKILL (128 + 9), or busybox's EPERM message and exit status 1. */
    const assertStopped = (r: { exitCode: number; stdout: string; stderr: string }, what: string) => {
      if (can() === 'kill') {
        assert.equal(r.exitCode, 137, `${what}: killed (128 + SIGKILL), got ${r.exitCode}: ${r.stdout}${r.stderr}`);
      } else {
        assert.equal(r.exitCode, 1, `${what}: refused, got ${r.exitCode}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /can't open '[^']+': Operation not permitted/, `${what}: EPERM`);
      }
      assert.equal(r.stdout ?? '', '', `${what}: read nothing`);
    };
    const stoppedVerdict = () => (can() === 'kill' ? 'killed' : 'denied');

    before(async () => {
      cluster = TestCluster.startOrShared(await freePort());
      await cluster.installCrd();
      h = await ContainerdHarness.start();
      shared = fs.mkdtempSync('/tmp/hive-shared-');
      fs.writeFileSync(`${shared}/secret`, 'shared secret\n');
      for (const [ns, ip] of [
        [NS_A, '10.203.78.5'],
        [NS_B, '10.203.78.6'],
      ]) {
        await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
        const p = await ok('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] } });
        pods[ns] = await h.runPod('web', ['app'], ns, (p.metadata as { uid: string }).uid, [{ hostPath: shared, containerPath: '/shared' }]);
        await ok('PATCH', `/api/v1/namespaces/${ns}/pods/web/status`, runningPodStatus(pods[ns].containers, ip, IMAGE), 'application/merge-patch+json');
      }
      // a second name for the file, made inside A's container (a symlink is resolved to its target's inode)
      const ln = await exec(NS_A, ['ln', '-s', SECRET, '/tmp/secret-link']);
    assert.equal(ln.exitCode, 0, `ln -s in A's container: ${ln.stdout}${ln.stderr}`);
      agent = await startAgent(agentArgs, { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket });
      const trace = (ns: string, name: string, action: string) =>
        ok('POST', `/apis/hive.io/v1alpha1/namespaces/${ns}/hivetraces`, {
          apiVersion: 'hive.io/v1alpha1',
          kind: 'HiveTrace',
          metadata: { name, namespace: ns },
          spec: { paths: [SECRET], selector: { matchLabels: { app: 'web' } }, access: ['read'], action },
        });
      // the action this mode applies (deny where it can do neither: the unavailable case)
      await trace(NS_A, 'guard', can() ?? 'deny');
      await trace(NS_B, 'watch', 'audit');
    });

    after(async () => {
      await agent?.stop();
      await h?.stop();
      cluster?.stop();
      if (shared) fs.rmSync(shared, { recursive: true, force: true });
    });

    test("an enforcing trace stops A's cat of the file, by its hard link and a symlink too; A's other files and B's cat of the same path in the same image are allowed", { timeout: 60_000 * TIME_SCALE }, async (t) => {
      if (!can()) return t.skip(`the agent runs in mode ${mode()}, which can neither deny nor kill (not applicable here)`);
      const ready = agent.logs.find((l) => l.msg === 'ready');
      assert.deepEqual(ready?.enforcement, { can: can(), enabled: true, hostExempt: true }, 'the host mount namespace is exempt');
      const e = await until(NS_A, 'guard', (x) => x.filesWatched === 1 && x.enforcement, 'guard watching');
      console.log(`# ${can()} trace status: ${JSON.stringify({ enforcement: e.enforcement, condition: e.conditions[0] })}`);
      assert.deepEqual(e.enforcement, { applied: can(), mode: mode() });
      assert.deepEqual([e.conditions[0].status, e.conditions[0].reason], ['True', 'Watching']);
      assert.equal(e.conditions[0].message.endsWith(`(${can()} in mode ${mode()})`), true, e.conditions[0].message);
      await until(NS_B, 'watch', (x) => x.filesWatched === 1, 'watch watching');

      const mark = agent.events.length;
      assertStopped(await cat(NS_A), "A's cat");
      const stopped = await catEvents(mark, 'guard');
      console.log(`# ${stoppedVerdict()}: ${JSON.stringify(stopped[0])}`);
      assert.deepEqual([...new Set(stopped.map((x) => x.verdict))], [stoppedVerdict()]);
      assert.equal(stopped[0].pod.namespace, NS_A);
      assertStopped(await cat(NS_A, '/etc/secret-hardlink'), "A's cat of a hard link");
      assertStopped(await cat(NS_A, '/tmp/secret-link'), "A's cat of a symlink");
      const passwd = await cat(NS_A, '/etc/passwd');
      assert.deepEqual([passwd.exitCode, passwd.stdout], [0, 'root:x:0:0:root:/root:/bin/sh\n'], "an unwatched file of A's is read");

      const mark2 = agent.events.length;
      const b = await cat(NS_B);
      assert.deepEqual([b.exitCode, b.stdout], [0, 'container secret\n'], "B's cat reads the file");
      const allowed = await catEvents(mark2, 'watch');
      assert.deepEqual([...new Set(allowed.map((x) => x.verdict))], ['allowed']);
      assert.equal(allowed[0].pod.namespace, NS_B);
      assert.ok(!agent.events.slice(mark2).some((x) => x.trace?.name === 'guard'), "A's trace saw nothing of B's read");
      await poll(async () => total(await agent.metrics(), 'hive_events_total', { trace: `${NS_A}/guard`, verdict: stoppedVerdict() }) >= 3, 5000 * TIME_SCALE, `${stoppedVerdict()} counted`);
    });
    test("a trace stops its own pods only: B's pod and a host process read the same host file (hostPath), reported as another pod's and the node's (SECURITY-REVIEW M1, M8)", { timeout: 60_000 * TIME_SCALE }, async (t) => {
      if (!can()) return t.skip(`the agent runs in mode ${mode()}, which can neither deny nor kill (not applicable here)`);
      await ok('POST', `/apis/hive.io/v1alpha1/namespaces/${NS_A}/hivetraces`, {
        apiVersion: 'hive.io/v1alpha1',
        kind: 'HiveTrace',
        metadata: { name: 'guard-shared', namespace: NS_A },
        spec: { paths: ['/shared/secret'], selector: { matchLabels: { app: 'web' } }, access: ['read'], action: can() },
      });
      try {
        await until(NS_A, 'guard-shared', (x) => x.filesWatched === 1 && x.enforcement?.applied === can(), 'guard-shared watching');
        const mark = agent.events.length;
        assertStopped(await cat(NS_A, '/shared/secret'), "A's cat of the shared file");
        // on the old kernel side B's cat was killed too (exit 137): the match was by inode alone
        const b = await cat(NS_B, '/shared/secret');
        assert.deepEqual([b.exitCode, b.stdout, b.stderr], [0, 'shared secret\n', ''], "B's cat reads: A's trace does not select B");
        const host = spawnSync('cat', [`${shared}/secret`], { encoding: 'utf8' });
        assert.equal(host.stdout, 'shared secret\n', "the host's cat reads");
        const mine = () => agent.events.slice(mark).filter((e) => e.kind === 'file' && e.trace?.name === 'guard-shared' && e.process?.comm === 'cat');
        await waitFor(() => mine().length >= 3, 5000 * TIME_SCALE, 'three events of guard-shared');
        console.log(`# guard-shared: ${JSON.stringify(mine().map((e) => ({ verdict: e.verdict, accessor: e.accessor, accessor_pod: e.accessor_pod, tgid: e.process.tgid })))}`);
        const aEv = mine().filter((e) => e.verdict === stoppedVerdict());
        assert.ok(aEv.length >= 1 && aEv.every((e) => e.accessor === 'pod'), `A's read: ${stoppedVerdict()}, by the trace's own pod`);
        const bEv = mine().filter((e) => e.accessor === 'other-pod');
        assert.equal(bEv.length, 1, "B's read is reported once, as another pod's");
        assert.equal(bEv[0].verdict, 'allowed');
        assert.deepEqual(bEv[0].accessor_pod, { namespace: NS_B, name: 'web', uid: pods[NS_B].uid });
        assert.equal(bEv[0].pod.namespace, NS_A, "the event is A's trace's, of A's watch");
        const hostEv = mine().filter((e) => e.process.tgid === host.pid);
        assert.deepEqual(hostEv.map((e) => [e.verdict, e.accessor]), [['allowed', 'host']], "the host's read: allowed, the node's");
      } finally {
        await ok('DELETE', `/apis/hive.io/v1alpha1/namespaces/${NS_A}/hivetraces/guard-shared`);
      }
    });

    test('audit first (spec.enforce: false): the cat lives, its event says would-deny, counted per verdict; Ready stays True', { timeout: 60_000 * TIME_SCALE }, async () => {
      await patchSpec({ enforce: false });
      const e = await until(NS_A, 'guard', (x) => x.enforcement?.applied === 'would-deny', 'guard audited first');
      assert.deepEqual(e.enforcement, { applied: 'would-deny', mode: mode(), reason: 'audit first (spec.enforce: false)' });
      assert.equal(e.conditions[0].status, 'True');
      const mark = agent.events.length;
      const a = await cat(NS_A);
      assert.equal(a.exitCode, 0, 'the cat lives');
      const ev = await catEvents(mark, 'guard');
      assert.deepEqual([...new Set(ev.map((x) => x.verdict))], ['would-deny']);
      await poll(async () => total(await agent.metrics(), 'hive_events_total', { trace: `${NS_A}/guard`, verdict: 'would-deny' }) >= 1, 5000 * TIME_SCALE, 'would-deny counted');
    });

    test("a deny trace this mode cannot apply: audited as would-deny, Ready=False reason EnforcementUnavailable naming the modes that can", { timeout: 60_000 * TIME_SCALE }, async (t) => {
      if (can() === 'deny') return t.skip(`the agent's mode ${mode()} can deny (not applicable here)`);
      await patchSpec({ enforce: true, action: 'deny' });
      const e = await until(NS_A, 'guard', (x) => x.conditions?.[0]?.reason === 'EnforcementUnavailable', 'EnforcementUnavailable');
      console.log(`# deny on this node: ${JSON.stringify({ enforcement: e.enforcement, condition: e.conditions[0] })}`);
      assert.equal(e.conditions[0].status, 'False');
      assert.match(e.conditions[0].message, /^cannot enforce here: mode \w+ cannot deny .*modes that can: fentry, lsm; 1 file\(s\) watched in 1 pod\(s\), audited as would-deny$/);
      assert.equal(e.enforcement.unavailable, true);
      const mark = agent.events.length;
      assert.equal((await cat(NS_A)).exitCode, 0, 'never stopped, never silent');
      assert.deepEqual([...new Set((await catEvents(mark, 'guard')).map((x) => x.verdict))], ['would-deny']);
      // B's audit trace on its own pod is untouched by A's
      const mark2 = agent.events.length;
      assert.equal((await cat(NS_B)).exitCode, 0);
      assert.deepEqual([...new Set((await catEvents(mark2, 'watch')).map((x) => x.verdict))], ['allowed']);
    });

    test('SIGKILL to the agent: the node fails open, the enforcing trace stops nothing once the agent is gone', { timeout: 60_000 * TIME_SCALE }, async (t) => {
      if (!can()) return t.skip(`mode ${mode()} can neither deny nor kill (not applicable here)`);
      await patchSpec({ enforce: true, action: can() });
      await until(NS_A, 'guard', (x) => x.enforcement?.applied === can(), `${can()} again`);
      assertStopped(await cat(NS_A), 'while the agent runs');
      const exited = new Promise<NodeJS.Signals | null>((r) => agent.child.once('exit', (_c, s) => r(s)));
      agent.child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');
      // the links go when the kernel releases the dead process's fds
      await poll(async () => (await cat(NS_A)).exitCode === 0, 5000 * TIME_SCALE, "A's cat reads again after the agent died");
    });

    test("a process of A that names itself kubelet gains nothing: the restarted agent does not exempt its executable, A's cat is still stopped (SECURITY-REVIEW H1)", { timeout: 90_000 * TIME_SCALE }, async (t) => {
      if (!can()) return t.skip(`mode ${mode()} can neither deny nor kill (not applicable here)`);
      // the agent is gone (the test before): the next one reads the node's processes as it starts
      const started = await exec(NS_A, ['sh', '-c', '(printf kubelet > /proc/self/comm; while :; do sleep 1; done) </dev/null >/dev/null 2>&1 &']);
      assert.equal(started.exitCode, 0, `${started.stdout}${started.stderr}`);
      const ownNs = fs.readlinkSync('/proc/self/ns/mnt');
      const impostors = () =>
        fs.readdirSync('/proc').filter((p) => {
          try {
            return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/comm`, 'utf8') === 'kubelet\n' && fs.readlinkSync(`/proc/${p}/ns/mnt`) !== ownNs;
          } catch {
            return false;
          }
        });
      await waitFor(() => impostors().length > 0, 5000 * TIME_SCALE, "A's shell named kubelet");
      const pids = impostors().map(Number);
      try {
        agent = await startAgent(agentArgs, { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket });
        // the new agent's own reconcile (the status may still show the last agent's entry)
        await waitFor(() => agent.logs.some((l) => l.msg === 'reconciled' && l.trace === `${NS_A}/guard` && l.filesWatched === 1), 10_000 * TIME_SCALE, 'the guard watched by the new agent');
        const mark = agent.events.length;
        assertStopped(await cat(NS_A), "A's cat beside a shell named kubelet");
        assert.deepEqual([...new Set((await catEvents(mark, 'guard')).map((x) => x.verdict))], [stoppedVerdict()]);
        const exempt = agent.logs.find((l) => l.msg === 'exempt executables');
        assert.ok(!exempt?.executables?.some((e: any) => e.from === 'process' && /busybox/.test(e.path)), `busybox is not exempt: ${JSON.stringify(exempt)}`);
        const warned = agent.logs.find((l) => l.msg === 'processes named like the runtime or kubelet are not exempt');
        assert.ok(warned?.processes?.some((p: any) => pids.includes(p.pid) && p.comm === 'kubelet'), `the impostor is named: ${JSON.stringify(warned)}`);
      } finally {
        await agent.stop();
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }
    });

    test("--enforce=false: the node's kill switch audits the enforcing trace as would-deny", { timeout: 60_000 * TIME_SCALE }, async () => {
      agent = await startAgent([...agentArgs, '--enforce=false'], { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket });
      assert.equal(agent.logs.find((l) => l.msg === 'ready')?.enforcement?.enabled, false);
      const e = await until(NS_A, 'guard', (x) => x.enforcement?.applied === 'would-deny', 'audited by the kill switch');
      assert.match(e.enforcement.reason, /--enforce=false/);
      assert.equal(e.conditions[0].status, 'True');
      const mark = agent.events.length;
      assert.equal((await cat(NS_A)).exitCode, 0, 'nothing stopped');
      assert.deepEqual([...new Set((await catEvents(mark, 'guard')).map((x) => x.verdict))], ['would-deny']);
    });
  });
}
