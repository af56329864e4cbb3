// spec.action end to end: a real API server, a real containerd (the harness,
// the test as kubelet), a real `hive agent` and this host's kernel, whose
// mode (tracepoint) can kill the opener and cannot deny. A kill trace in
// namespace A kills A's `cat` of the watched file and nothing in namespace B
// (same image, same path, an audit trace there); audit first (spec.enforce:
// false) and the agent's --enforce=false make the same reads live, with
// would-deny events counted per verdict; a deny trace, which this mode cannot
// apply, is audited as would-deny and the node says EnforcementUnavailable;
// SIGKILL to the agent restores access (its programs go with its fds).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, clusterSkip, freePort } from '../testing/cluster';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { kernelSkip, waitFor } from '../testing/kernel';
import { until as poll } from '../testing/node';
import { AgentProcess, runningPodStatus, startAgent, total } from '../testing/agent-process';
import { MODE_ENFORCEMENT } from '../fileaccess/action';

const NODE = 'enforce-1';
const NS_A = 'enf-a';
const NS_B = 'enf-b';
const SECRET = '/etc/secret';
const skip = clusterSkip() || containerdSkip() || kernelSkip();

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('HiveTrace spec.action through the agent', { skip, concurrency: 1 }, () => {
  let cluster: TestCluster;
  let h: ContainerdHarness;
  let agent: AgentProcess;
  const pods: Record<string, Pod> = {};

  const ok = (method: string, p: string, body?: unknown, contentType?: string) => cluster.ok(method, p, body, contentType);
  const tracePath = (ns: string, name: string) => `/apis/hive.io/v1alpha1/namespaces/${ns}/hivetraces/${name}`;
  const patchSpec = (spec: Record<string, unknown>) => ok('PATCH', tracePath(NS_A, 'guard'), JSON.stringify({ spec }), 'application/merge-patch+json');
  const until = (ns: string, name: string, pred: (e: any) => boolean, what: string) => cluster.untilTraceNodeStatus(ns, name, NODE, pred, what, 200);
  const cat = async (ns: string) => h.cri.execSync(pods[ns].containers[0].id, ['cat', SECRET]);
  /** The file events of `trace` from the first `cat` after `mark`. */
  const catEvents = async (mark: number, trace: string) => {
    await waitFor(() => agent.events.slice(mark).some((e) => e.kind === 'file' && e.trace?.name === trace && e.process?.comm === 'cat'), 5000, `an event of ${trace} for the cat`);
    return agent.events.slice(mark).filter((e) => e.kind === 'file' && e.trace?.name === trace && e.process?.comm === 'cat');
  };
  const mode = () => agent.logs.find((l) => l.msg === 'ready')?.mode as keyof typeof MODE_ENFORCEMENT;

  before(async () => {
    cluster = TestCluster.start(await freePort());
    await cluster.installCrd();
    h = await ContainerdHarness.start();
    for (const [ns, ip] of [
      [NS_A, '10.203.78.5'],
      [NS_B, '10.203.78.6'],
    ]) {
      await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      const p = await ok('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] } });
      pods[ns] = await h.runPod('web', ['app'], ns, (p.metadata as { uid: string }).uid);
      await ok('PATCH', `/api/v1/namespaces/${ns}/pods/web/status`, runningPodStatus(pods[ns].containers, ip, IMAGE), 'application/merge-patch+json');
    }
    const trace = (ns: string, name: string, action: string) =>
      ok('POST', `/apis/hive.io/v1alpha1/namespaces/${ns}/hivetraces`, {
        apiVersion: 'hive.io/v1alpha1',
        kind: 'HiveTrace',
        metadata: { name, namespace: ns },
        spec: { paths: [SECRET], selector: { matchLabels: { app: 'web' } }, access: ['read'], action },
      });
    await trace(NS_A, 'guard', 'kill');
    await trace(NS_B, 'watch', 'audit');
    agent = await startAgent(['--resync-interval', '3600', '--status-interval', '2'], { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket });
  });

  after(async () => {
    await agent?.stop();
    await h?.stop();
    cluster?.stop();
  });

  test("a kill trace kills A's cat of the file (verdict killed); B's cat of the same path in the same image lives (allowed)", { timeout: 60_000 }, async (t) => {
    if (MODE_ENFORCEMENT[mode()] !== 'kill') return t.skip(`the agent runs in mode ${mode()}, which cannot kill (not applicable: the host's mode is tracepoint)`);
    const ready = agent.logs.find((l) => l.msg === 'ready');
    assert.deepEqual(ready?.enforcement, { can: 'kill', enabled: true, hostExempt: true }, 'the host mount namespace is exempt');
    const e = await until(NS_A, 'guard', (x) => x.filesWatched === 1 && x.enforcement, 'guard watching');
    console.log(`# kill trace status: ${JSON.stringify({ enforcement: e.enforcement, condition: e.conditions[0] })}`);
    assert.deepEqual(e.enforcement, { applied: 'kill', mode: 'tracepoint' });
    assert.deepEqual([e.conditions[0].status, e.conditions[0].reason], ['True', 'Watching']);
    assert.match(e.conditions[0].message, /\(kill in mode tracepoint\)$/);
    await until(NS_B, 'watch', (x) => x.filesWatched === 1, 'watch watching');

    const mark = agent.events.length;
    const a = await cat(NS_A);
    assert.equal(a.exitCode, 137, `A's cat is killed (128 + SIGKILL), got ${a.exitCode}: ${a.stdout}`);
    assert.equal(a.stdout ?? '', '', 'it read nothing');
    const killed = await catEvents(mark, 'guard');
    console.log(`# killed: ${JSON.stringify(killed[0])}`);
    assert.deepEqual([...new Set(killed.map((x) => x.verdict))], ['killed']);
    assert.equal(killed[0].pod.namespace, NS_A);

    const mark2 = agent.events.length;
    const b = await cat(NS_B);
    assert.equal(b.exitCode, 0, "B's cat lives");
    const allowed = await catEvents(mark2, 'watch');
    assert.deepEqual([...new Set(allowed.map((x) => x.verdict))], ['allowed']);
    assert.equal(allowed[0].pod.namespace, NS_B);
    assert.ok(!agent.events.slice(mark2).some((x) => x.trace?.name === 'guard'), "A's trace saw nothing of B's read");
  });

  test('audit first (spec.enforce: false): the cat lives, its event says would-deny, counted per verdict; Ready stays True', { timeout: 60_000 }, async () => {
    await patchSpec({ enforce: false });
    const e = await until(NS_A, 'guard', (x) => x.enforcement?.applied === 'would-deny', 'guard audited first');
    assert.deepEqual(e.enforcement, { applied: 'would-deny', mode: mode(), reason: 'audit first (spec.enforce: false)' });
    assert.equal(e.conditions[0].status, 'True');
    const mark = agent.events.length;
    const a = await cat(NS_A);
    assert.equal(a.exitCode, 0, 'the cat lives');
    const ev = await catEvents(mark, 'guard');
    assert.deepEqual([...new Set(ev.map((x) => x.verdict))], ['would-deny']);
    await poll(async () => total(await agent.metrics(), 'hive_events_total', { trace: `${NS_A}/guard`, verdict: 'would-deny' }) >= 1, 5000, 'would-deny counted');
  });

  test("a deny trace this mode cannot apply: audited as would-deny, Ready=False reason EnforcementUnavailable naming the modes that can", { timeout: 60_000 }, async (t) => {
    if (MODE_ENFORCEMENT[mode()] === 'deny') return t.skip(`the agent's mode ${mode()} can deny (not applicable here)`);
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

  test('SIGKILL to the agent: the node fails open, the kill trace stops nothing once the agent is gone', { timeout: 60_000 }, async (t) => {
    if (MODE_ENFORCEMENT[mode()] !== 'kill') return t.skip(`mode ${mode()} cannot kill (not applicable here)`);
    await patchSpec({ action: 'kill' });
    await until(NS_A, 'guard', (x) => x.enforcement?.applied === 'kill', 'kill again');
    assert.equal((await cat(NS_A)).exitCode, 137, 'killed while the agent runs');
    const exited = new Promise<NodeJS.Signals | null>((r) => agent.child.once('exit', (_c, s) => r(s)));
    agent.child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    // the links go when the kernel releases the dead process's fds
    await poll(async () => (await cat(NS_A)).exitCode === 0, 5000, "A's cat reads again after the agent died");
  });

  test("--enforce=false: the node's kill switch audits the kill trace as would-deny", { timeout: 60_000 }, async () => {
    agent = await startAgent(['--resync-interval', '3600', '--status-interval', '2', '--enforce=false'], { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket });
    assert.equal(agent.logs.find((l) => l.msg === 'ready')?.enforcement?.enabled, false);
    const e = await until(NS_A, 'guard', (x) => x.enforcement?.applied === 'would-deny', 'audited by the kill switch');
    assert.match(e.enforcement.reason, /--enforce=false/);
    assert.equal(e.conditions[0].status, 'True');
    const mark = agent.events.length;
    assert.equal((await cat(NS_A)).exitCode, 0, 'nothing killed');
    assert.deepEqual([...new Set((await catEvents(mark, 'guard')).map((x) => x.verdict))], ['would-deny']);
  });
});
