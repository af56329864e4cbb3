// An idle cluster costs nothing: 3 HiveTraces, 2 real agents (two node names,
// one API server, the host's containerd), and after they settle, 60 s in which
// nothing changes. Status writes are counted from the API server's own watch
// (MODIFIED events, attributed to a node by the entry that changed and by its
// field manager's timestamp), reconciles from each agent's
// hive_reconcile_total{trace,cause}. Then one spec change: exactly one
// reconcile and one write per node for that trace, none for the others.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { TestCluster, clusterSkip, freePort } from '../testing/cluster';
import { ContainerdHarness, IMAGE, containerdSkip } from '../testing/containerd-harness';
import { kernelSkip, sleep, waitFor } from '../testing/kernel';
import { AgentProcess, Sample, runningPodStatus, startAgent, total } from '../testing/agent-process';

const NODES = ['idle-a', 'idle-b'];
const NS = 'idle';
const TRACES = ['t1', 't2', 't3'];
const IDLE_MS = 60_000;
const RESYNC_S = 20;
const skip = clusterSkip() || containerdSkip() || kernelSkip();

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('idle: no status write and no reconcile without a cause', { skip }, () => {
  let cluster: TestCluster;
  let h: ContainerdHarness;
  const agents: AgentProcess[] = [];
  let watch: { stop(): void } | undefined;
  /** Per trace, the last object the watch sent. */
  const last = new Map<string, any>();
  /** Writes per "trace|node", with when they arrived; MODIFIED events no node's entry explains. */
  const writes = new Map<string, number[]>();
  const unexplained: any[] = [];

  const ok = (method: string, p: string, body?: unknown, contentType?: string) => cluster.ok(method, p, body, contentType);

  const entry = (o: any, node: string) => (o?.status?.nodes ?? []).find((n: any) => n.node === node);
  const managerTime = (o: any, node: string) => (o?.metadata?.managedFields ?? []).find((m: any) => m.manager === `hive-agent/${node}` && m.subresource === 'status')?.time;
  const writesOf = (trace: string, node: string, since = 0) => (writes.get(`${trace}|${node}`) ?? []).filter((t) => t >= since).length;
  const byTraceCause = (s: Sample[]) => {
    const out: Record<string, number> = {};
    for (const x of s) if (x.name === 'hive_reconcile_total') out[`${x.labels.trace} ${x.labels.cause}`] = x.value;
    return out;
  };
  const delta = (a: Record<string, number>, b: Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if ((b[k] ?? 0) !== (a[k] ?? 0)) out[k] = (b[k] ?? 0) - (a[k] ?? 0);
    return out;
  };

  before(async () => {
    cluster = TestCluster.start(await freePort());
    await cluster.installCrd();
    h = await ContainerdHarness.start();
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    // node a: a running pod (its container in the harness); node b: a pod whose container never started
    const a = await ok('POST', `/api/v1/namespaces/${NS}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app-a', labels: { app: 'x' } }, spec: { nodeName: NODES[0], containers: [{ name: 'app', image: IMAGE }] } });
    const pod = await h.runPod('app-a', ['app'], NS, (a.metadata as { uid: string }).uid);
    await ok('PATCH', `/api/v1/namespaces/${NS}/pods/app-a/status`, runningPodStatus(pod.containers, '10.203.9.2', IMAGE), 'application/merge-patch+json');
    await ok('POST', `/api/v1/namespaces/${NS}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app-b', labels: { app: 'x' } }, spec: { nodeName: NODES[1], containers: [{ name: 'app', image: IMAGE }] } });
    const spec: Record<string, object> = {
      t1: { paths: ['/etc/secret'], selector: { matchLabels: { app: 'x' } }, access: ['read'] },
      t2: { paths: ['/etc/*', '/missing'], selector: { matchLabels: { app: 'x' } } },
      t3: { paths: ['/etc/secret-hardlink'], selector: {}, network: { mode: 'monitor' } },
    };
    for (const t of TRACES) await ok('POST', `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces`, { apiVersion: 'hive.io/v1alpha1', kind: 'HiveTrace', metadata: { name: t, namespace: NS }, spec: spec[t] });
    const list = await ok('GET', `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces`);
    for (const o of list.items as any[]) last.set(o.metadata.name, o);
    watch = cluster.watch(`/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces?resourceVersion=${(list.metadata as any).resourceVersion}`, (e) => {
      if (e.type !== 'MODIFIED') return;
      const name = e.object.metadata.name;
      const before = last.get(name);
      last.set(name, e.object);
      let explained = false;
      for (const node of NODES) {
        if (isDeepStrictEqual(entry(before, node), entry(e.object, node)) && managerTime(before, node) === managerTime(e.object, node)) continue;
        explained = true;
        const k = `${name}|${node}`;
        writes.set(k, [...(writes.get(k) ?? []), Date.now()]);
      }
      if (!explained && before?.metadata.generation === e.object.metadata.generation) unexplained.push(e.object);
    });
    for (const node of NODES) {
      agents.push(await startAgent(['--resync-interval', String(RESYNC_S)], { KUBECONFIG: cluster.kubeconfig, NODE_NAME: node, CONTAINERD_ADDRESS: h.socket }));
    }
  });

  after(async () => {
    watch?.stop();
    for (const a of agents) await a.stop();
    await h?.stop();
    cluster?.stop();
  });

  test('after settling, 60 s idle: at most one write per trace per node, and only resync reconciles', { timeout: 180_000 }, async () => {
    await waitFor(() => TRACES.every((t) => NODES.every((n) => entry(last.get(t), n))), 20000, 'every node reported on every trace');
    await sleep(5000); // the writer's 2 s throttle, and anything in flight
    const a = last.get('t1');
    assert.equal(entry(a, NODES[0]).filesWatched, 1);
    assert.equal(entry(a, NODES[0]).conditions[0].status, 'True');
    assert.deepEqual(entry(a, NODES[1]).unresolved.map((u: any) => u.reason), ['container not running']);
    const before = await Promise.all(agents.map((x) => x.metrics()));
    const transition = Object.fromEntries(TRACES.map((t) => [t, NODES.map((n) => entry(last.get(t), n).conditions[0].lastTransitionTime)]));
    const t0 = Date.now();
    await sleep(IDLE_MS);
    const afterIdle = await Promise.all(agents.map((x) => x.metrics()));
    const figures: string[] = [];
    for (const [i, node] of NODES.entries()) {
      const d = delta(byTraceCause(before[i]), byTraceCause(afterIdle[i]));
      figures.push(`${node}: reconciles ${JSON.stringify(d)}, status writes ${TRACES.map((t) => `${t}=${writesOf(t, node, t0)}`).join(' ')}`);
      for (const [k, n] of Object.entries(d)) {
        assert.ok(k.endsWith(' resync'), `${node}: ${n} reconcile(s) of ${k} while idle`);
        assert.ok(n <= Math.ceil(IDLE_MS / 1000 / RESYNC_S) + 1, `${node}: ${n} resyncs of ${k}`);
      }
      assert.ok(Object.keys(d).length > 0, `${node}: the resync ran (reconciles are counted)`);
      for (const t of TRACES) {
        assert.ok(writesOf(t, node, t0) <= 1, `${node} wrote ${t} ${writesOf(t, node, t0)} times while idle`);
        assert.equal(total(afterIdle[i], 'hive_status_writes_total', { trace: `${NS}/${t}` }) - total(before[i], 'hive_status_writes_total', { trace: `${NS}/${t}` }), writesOf(t, node, t0));
      }
    }
    console.log(`# idle ${IDLE_MS / 1000} s, resync every ${RESYNC_S} s: ${figures.join('; ')}`);
    assert.deepEqual(unexplained, [], 'every MODIFIED event is a node entry');
    for (const t of TRACES) assert.deepEqual(NODES.map((n) => entry(last.get(t), n).conditions[0].lastTransitionTime), transition[t], `${t}: Ready did not flip`);
  });

  test('a spec change: one reconcile (cause spec) per node for that trace only; a write where the report changed', { timeout: 60_000 }, async () => {
    const before = await Promise.all(agents.map((x) => x.metrics()));
    const t0 = Date.now();
    await ok('PATCH', `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces/t1`, JSON.stringify({ spec: { paths: ['/etc/secret', '/etc/not-there'] } }), 'application/merge-patch+json');
    await waitFor(() => writesOf('t1', NODES[0], t0) >= 1, 10000, `${NODES[0]} wrote t1`);
    await sleep(5000);
    const after = await Promise.all(agents.map((x) => x.metrics()));
    for (const [i, node] of NODES.entries()) {
      const d = delta(byTraceCause(before[i]), byTraceCause(after[i]));
      for (const k of Object.keys(d)) if (k.endsWith(' resync')) delete d[k];
      assert.deepEqual(d, { [`${NS}/t1 spec`]: 1 }, node);
    }
    // node a resolves the new path (not there: unresolved); node b's container never ran, so its report is unchanged
    assert.deepEqual(TRACES.map((t) => writesOf(t, NODES[0], t0)), [1, 0, 0], NODES[0]);
    assert.deepEqual(TRACES.map((t) => writesOf(t, NODES[1], t0)), [0, 0, 0], NODES[1]);
    const e = entry(last.get('t1'), NODES[0]);
    assert.deepEqual(e.unresolved.map((u: any) => u.path), ['/etc/not-there']);
    assert.equal(e.conditions[0].status, 'False');
  });
});
