// hive agent end to end: a real kube-apiserver (test/cluster), a real
// containerd (the harness, as this node's runtime) and the test as kubelet:
// it creates Pods bound to the node and starts their containers through CRI
// with the pods' real uids.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { spawn, ChildProcessWithoutNullStreams } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { TestCluster, clusterSkip, freePort, objectPath } from '../testing/cluster';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { kernelSkip, settle, waitFor } from '../testing/kernel';
import { assertOneLineError, hive } from '../testing/cli';
import { Topology, netnsSkip, tc, TCP_CLIENT } from '../testing/netns';
import { AgentProcess, parseMetrics, runningPodStatus, startAgent, total } from '../testing/agent-process';

const MAIN = path.resolve(__dirname, '../cli/hive.js');
const RBAC = path.resolve(__dirname, '../../../config/rbac');
const NODE = 'node-1';
/** Event counters in status: at most one write per this many seconds per trace. */
const STATUS_INTERVAL_S = 2;
const skip = clusterSkip() || containerdSkip() || kernelSkip() || netnsSkip();

describe('hive agent against a real API server and containerd', { skip }, () => {
  let cluster: TestCluster;
  let h: ContainerdHarness;
  let agent: ChildProcessWithoutNullStreams;
  const events: Record<string, any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  const logs: Record<string, any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  const pods: Record<string, { uid: string; pod: Pod }> = {};
  let saToken = '';
  let topo: Topology | undefined;
  let agentKubeconfig = '';

  const ok = (method: string, p: string, body?: unknown, contentType?: string) => cluster.ok(method, p, body, contentType);

  async function createPod(ns: string, name: string, labels: Record<string, string>) {
    const body = await ok('POST', `/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels },
      spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] },
    });
    const uid = (body.metadata as { uid: string }).uid;
    const pod = await h.runPod(name, ['app'], ns, uid);
    pods[`${ns}/${name}`] = { uid, pod };
    // what the kubelet reports once the containers run
    await ok('PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, runningPodStatus(pod.containers, '127.0.0.1', IMAGE), 'application/merge-patch+json');
  }

  type NodeStatus = { node: string; filesWatched: number; eventsSeen: number; unresolved: { path: string; reason: string }[]; conditions: { status: string; reason: string }[] };
  /** Polls a trace's status until `node`'s entry satisfies `pred` (about 15 s), or fails showing it. */
  const untilEntry = (ns: string, name: string, node: string, pred: (e: NodeStatus) => boolean, what: string): Promise<NodeStatus> =>
    cluster.untilTraceNodeStatus(ns, name, node, pred, what);

  const metrics = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${logs.find((l) => l.msg === 'ready')!.metricsPort}/metrics`)).text());
  const watchedInodes = async () => total(await metrics(), 'hive_watched_inodes');
  /** Waits for the registry's inode count (the hive_watched_inodes gauge) to be n. */
  async function inodes(n: number) {
    let got = -1;
    for (let i = 0; i < 100 && got !== n; i++) {
      got = await watchedInodes();
      if (got !== n) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(got, n, 'hive_watched_inodes');
  }

  const reconciled = (trace: string, pred: (l: Record<string, any>) => boolean) => // eslint-disable-line @typescript-eslint/no-explicit-any
    waitFor(() => logs.some((l) => l.msg === 'reconciled' && l.trace === trace && pred(l)), 10000, `reconcile of ${trace}`);

  const lastReconcile = (trace: string) => [...logs].reverse().find((l) => l.msg === 'reconciled' && l.trace === trace)!;

  async function catIn(ns: string, name: string) {
    const mark = events.length;
    const r = await h.cri.execSync(pods[`${ns}/${name}`].pod.containers[0].id, ['cat', '/etc/secret']);
    assert.equal(r.exitCode, 0);
    return mark;
  }

  before(async () => {
    cluster = TestCluster.start(await freePort());
    await cluster.installCrd();
    h = await ContainerdHarness.start();
    // the agent's identity: config/rbac, and a token of its ServiceAccount from TokenRequest
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'hive-system' } });
    for (const f of ['service_account.yaml', 'cluster_role.yaml', 'cluster_role_binding.yaml']) {
      const o = parseAllDocuments(fs.readFileSync(path.join(RBAC, f), 'utf8'))[0].toJS();
      await ok('PATCH', `${objectPath(o)}?fieldManager=test&force=true`, JSON.stringify(o), 'application/apply-patch+yaml');
    }
    const tr = await ok('POST', '/api/v1/namespaces/hive-system/serviceaccounts/hive-agent/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    });
    saToken = (tr.status as { token: string }).token;
    agentKubeconfig = cluster.kubeconfigWithToken(saToken, path.join(cluster.dir, 'agent.kubeconfig'));
    for (const ns of ['team-a', 'team-b']) await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await createPod('team-a', 'web-1', { app: 'web' });
    await createPod('team-b', 'web-2', { app: 'web' });
    // no periodic resync here: every reconcile has an event as its cause, so series and counts are exact
    agent = spawn(process.execPath, [MAIN, 'agent', '--metrics-port', '0', '--status-interval', String(STATUS_INTERVAL_S), '--resync-interval', '3600'], {
      env: { ...process.env, KUBECONFIG: agentKubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket },
      // metrics on a free port (the ready log says which)
    });
    readline.createInterface({ input: agent.stdout }).on('line', (l) => events.push(JSON.parse(l)));
    readline.createInterface({ input: agent.stderr }).on('line', (l) => {
      try {
        logs.push(JSON.parse(l));
      } catch {
        logs.push({ raw: l });
      }
    });
    await waitFor(() => logs.some((l) => l.msg === 'ready') || agent.exitCode !== null, 20000, 'agent ready');
    assert.ok(logs.some((l) => l.msg === 'ready'), JSON.stringify(logs));
  });

  after(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await h?.stop();
    cluster?.stop();
    topo?.destroy();
  });

  const trace = {
    apiVersion: 'hive.io/v1alpha1',
    kind: 'HiveTrace',
    metadata: { name: 'secrets', namespace: 'team-a' },
    spec: { paths: ['/etc/secret', '/etc/secret-hardlink'], selector: { matchLabels: { app: 'web' } }, access: ['read'] },
  };

  test('a HiveTrace applied while pods run: one event with trace, pod, container, process and node', async () => {
    const t0 = Date.now();
    await ok('POST', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces', trace);
    await reconciled('team-a/secrets', (l) => l.filesWatched === 1 && l.podsMatched === 1);
    const first = logs.find((l) => l.msg === 'reconciled' && l.trace === 'team-a/secrets' && l.filesWatched === 1)!;
    await inodes(1);
    // reported, not asserted as a timing (speed lives in benchmarks)
    console.log(`# trace enforced ${Date.parse(first.time) - t0} ms after it was created`);
    const mark = await catIn('team-a', 'web-1');
    await waitFor(() => events.slice(mark).some((e) => e.process?.comm === 'cat'), 5000, 'the event');
    await settle();
    const got = events.slice(mark).filter((e) => e.process?.comm === 'cat');
    assert.equal(got.length, 1, JSON.stringify(got));
    const e = got[0];
    assert.deepEqual(e.trace, { namespace: 'team-a', name: 'secrets' });
    assert.deepEqual(e.pod, { namespace: 'team-a', name: 'web-1', uid: pods['team-a/web-1'].uid });
    assert.deepEqual(e.container, { name: 'app', id: pods['team-a/web-1'].pod.containers[0].id, image: IMAGE });
    assert.equal(e.node, NODE);
    assert.equal(e.kind, 'file');
    assert.deepEqual(e.access, ['read']);
    assert.equal(e.path, '/etc/secret');
    assert.deepEqual(e.aliases, ['/etc/secret-hardlink'], 'a hard link in the same trace is one event');
    console.log(`# agent file event: ${JSON.stringify(e)}`);
  });

  test("status: this node's entry, written by server-side apply under the node's own field manager", async () => {
    const get = () => cluster.request('GET', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces/secrets');
    type NodeEntry = { node: string; podsMatched: number; filesWatched: number; eventsSeen: number; conditions: { type: string; status: string }[] };
    let entry: NodeEntry | undefined;
    for (let i = 0; i < 100; i++) {
      const r = await get();
      entry = ((r.body.status as { nodes?: NodeEntry[] })?.nodes ?? []).find((n) => n.node === NODE);
      if (entry && entry.eventsSeen >= 1) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(entry, 'node entry written');
    assert.equal(entry.podsMatched, 1);
    assert.equal(entry.filesWatched, 1);
    assert.equal(entry.eventsSeen >= 1, true, 'events seen counted');
    assert.deepEqual(entry.conditions.map((c) => [c.type, c.status]), [['Ready', 'True']]);
    // another node's agent writes its own entry: neither clobbers the other
    const other = { apiVersion: 'hive.io/v1alpha1', kind: 'HiveTrace', metadata: { name: 'secrets', namespace: 'team-a' }, status: { nodes: [{ node: 'node-2', podsMatched: 0 }] } };
    await ok('PATCH', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces/secrets/status?fieldManager=hive-agent/node-2&force=true', JSON.stringify(other), 'application/apply-patch+yaml');
    const nodes = ((await get()).body.status as { nodes: NodeEntry[] }).nodes.map((n) => n.node).sort();
    assert.deepEqual(nodes, [NODE, 'node-2']);
  });

  test('event counters in status: written while events flow, at most once per --status-interval', async () => {
    const writes: number[] = [];
    let lastEntry: unknown;
    const list = await ok('GET', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces');
    const w = cluster.watch(`/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces?resourceVersion=${(list.metadata as { resourceVersion: string }).resourceVersion}`, (e) => {
      const mine = ((e.object.status?.nodes ?? []) as { node: string }[]).find((n) => n.node === NODE);
      if (e.object.metadata.name !== 'secrets' || JSON.stringify(mine) === JSON.stringify(lastEntry)) return;
      lastEntry = mine;
      writes.push(Date.now());
    });
    try {
      const t0 = Date.now();
      // one shell reads the file every 100 ms for about 7 s
      const r = await h.cri.execSync(pods['team-a/web-1'].pod.containers[0].id, ['sh', '-c', 'for i in $(seq 1 70); do read x < /etc/secret; sleep 0.1; done'], 30);
      assert.equal(r.exitCode, 0);
      await new Promise((res) => setTimeout(res, STATUS_INTERVAL_S * 1000 + 1000));
      const secs = (Date.now() - t0) / 1000;
      const gaps = writes.slice(1).map((t, i) => t - writes[i]);
      console.log(`# ${writes.length} status writes in ${secs.toFixed(1)} s of events (interval ${STATUS_INTERVAL_S} s), gaps ${gaps.join(',')} ms`);
      assert.ok(writes.length >= 2, 'the counters were written');
      assert.ok(writes.length <= Math.ceil(secs / STATUS_INTERVAL_S) + 1, `${writes.length} writes`);
      for (const g of gaps) assert.ok(g >= STATUS_INTERVAL_S * 1000 - 300, `two writes ${g} ms apart`);
      const entry = lastEntry as { eventsSeen: number; lastEventTime: string };
      assert.ok(entry.eventsSeen >= 70, `eventsSeen ${entry.eventsSeen}`);
      assert.ok(Date.parse(entry.lastEventTime) >= t0);
    } finally {
      w.stop();
    }
  });

  test('metrics and health endpoints', async () => {
    const port = logs.find((l) => l.msg === 'ready')!.metricsPort as number;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /hive_events_total\{trace="team-a\/secrets",access="read",verdict="allowed"\} [1-9]/);
    assert.match(text, /hive_watched_inodes [1-9]/);
    assert.match(text, /hive_reconcile_duration_seconds_count [1-9]/);
    assert.match(text, /hive_events_dropped 0/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  });

  test('spec.rateLimit: past N events per second per process, one record with count', async () => {
    await ok('PATCH', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces/secrets', JSON.stringify({ spec: { rateLimit: 1 } }), 'application/merge-patch+json');
    await reconciled('team-a/secrets', () => true);
    await new Promise((r) => setTimeout(r, 300)); // the informer has the new spec
    const mark = events.length;
    // one shell opens the file five times itself (redirections, no child processes)
    const r = await h.cri.execSync(pods['team-a/web-1'].pod.containers[0].id, ['sh', '-c', 'for i in 1 2 3 4 5; do read x < /etc/secret; done']);
    assert.equal(r.exitCode, 0);
    await waitFor(() => events.slice(mark).some((e) => e.count), 5000, 'the summary record');
    const sh = events.slice(mark).filter((e) => e.process?.comm === 'sh');
    assert.equal(sh.length, 2, JSON.stringify(sh));
    assert.equal(sh[0].count, undefined);
    assert.equal(sh[1].count, 4);
    await ok('PATCH', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces/secrets', JSON.stringify({ spec: { rateLimit: null } }), 'application/merge-patch+json');
  });

  test('a trace in namespace A never matches pods of namespace B', async () => {
    const mark = await catIn('team-b', 'web-2');
    await settle();
    assert.deepEqual(events.slice(mark).filter((e) => e.process?.comm === 'cat'), []);
    assert.equal(lastReconcile('team-a/secrets').podsMatched, 1);
  });

  test('a pod relabelled out of the selector is no longer watched; back in, it is again', async () => {
    const p = '/api/v1/namespaces/team-a/pods/web-1';
    await ok('PATCH', p, JSON.stringify({ metadata: { labels: { app: 'other' } } }), 'application/merge-patch+json');
    await reconciled('team-a/secrets', (l) => l.podsMatched === 0 && l.filesWatched === 0);
    await inodes(0);
    const mark = await catIn('team-a', 'web-1');
    await settle();
    assert.deepEqual(events.slice(mark).filter((e) => e.process?.comm === 'cat'), []);
    await ok('PATCH', p, JSON.stringify({ metadata: { labels: { app: 'web' } } }), 'application/merge-patch+json');
    await reconciled('team-a/secrets', (l) => l.podsMatched === 1 && l.filesWatched === 1);
    await inodes(1);
  });

  test('a deleted trace leaves no entries', async () => {
    await ok('DELETE', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces/secrets');
    await reconciled('team-a/secrets', (l) => l.present === false && l.filesWatched === 0);
    await inodes(0);
  });

  test("the agent's ServiceAccount token has the ClusterRole's rights and no more", async () => {
    const as = (p: string) => cluster.request('GET', p, undefined, { token: saToken });
    assert.equal((await as('/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1')).status, 200);
    assert.equal((await as('/apis/hive.io/v1alpha1/hivetraces')).status, 200);
    assert.equal((await as('/api/v1/nodes')).status, 200, 'nodes: pod CIDRs and addresses for the network monitor');
    assert.equal((await as('/api/v1/namespaces/team-a/secrets')).status, 403);
    assert.equal((await as('/api/v1/secrets')).status, 403);
    assert.equal((await cluster.request('DELETE', '/api/v1/namespaces/team-a/pods/web-1', undefined, { token: saToken })).status, 403);
  });

  test('the API server restarted mid-run: the agent recovers and reconciles new traces', async () => {
    cluster.restart();
    await ok('POST', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces', { ...trace, metadata: { name: 'after-restart', namespace: 'team-a' } });
    await reconciled('team-a/after-restart', (l) => l.present === true && l.podsMatched === 1);
    await ok('DELETE', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces/after-restart');
    await reconciled('team-a/after-restart', (l) => l.present === false);
  });

  test('a new pod of a selected kind is watched within a second of its container starting', async () => {
    await ok('POST', '/apis/hive.io/v1alpha1/namespaces/team-a/hivetraces', trace);
    await reconciled('team-a/secrets', (l) => l.present === true && l.filesWatched === 1);
    await inodes(1);
    const t0 = Date.now();
    await createPod('team-a', 'web-3', { app: 'web' });
    const started = Date.now();
    await reconciled('team-a/secrets', (l) => l.podsMatched === 2 && l.filesWatched === 2);
    await inodes(2);
    const line = [...logs].reverse().find((l) => l.msg === 'reconciled' && l.trace === 'team-a/secrets' && l.podsMatched === 2)!;
    // reported, not asserted as a timing (speed lives in benchmarks)
    console.log(`# new pod watched ${Date.parse(line.time) - started} ms after its container started (pod created ${started - t0} ms before)`);
  });

  test('a native sidecar is watched like a container, a finished init container is not resolved, a sidecar not running is unresolved (SECURITY-REVIEW L2)', async () => {
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-s' } });
    const body = await ok('POST', '/api/v1/namespaces/team-s/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'meshed', labels: { app: 'meshed' } },
      spec: { nodeName: NODE, initContainers: [{ name: 'setup', image: IMAGE }, { name: 'proxy', image: IMAGE, restartPolicy: 'Always' }], containers: [{ name: 'app', image: IMAGE }] },
    });
    const uid = (body.metadata as { uid: string }).uid;
    const pod = await h.runPod('meshed', ['proxy', 'app'], 'team-s', uid);
    // what the kubelet reports: setup done, the sidecar and the app running
    const status = JSON.parse(runningPodStatus(pod.containers, '127.0.0.1', IMAGE));
    const [proxy, app] = status.status.containerStatuses;
    status.status.containerStatuses = [app];
    status.status.initContainerStatuses = [{ ...proxy, name: 'setup', containerID: 'containerd://0000', state: { terminated: { exitCode: 0, reason: 'Completed' } } }, proxy];
    await ok('PATCH', '/api/v1/namespaces/team-s/pods/meshed/status', JSON.stringify(status), 'application/merge-patch+json');
    await ok('POST', '/apis/hive.io/v1alpha1/namespaces/team-s/hivetraces', { ...trace, metadata: { name: 'mesh', namespace: 'team-s' }, spec: { ...trace.spec, paths: ['/etc/secret'], selector: { matchLabels: { app: 'meshed' } } } });
    await reconciled('team-s/mesh', (l) => l.podsMatched === 1 && l.filesWatched === 2 && l.unresolved.length === 0);
    const e = await untilEntry('team-s', 'mesh', NODE, (x) => x.filesWatched === 2 && x.conditions?.[0]?.status === 'True', 'the app and its sidecar watched, Ready');
    assert.deepEqual(e.unresolved ?? [], []);
    // the sidecar's cat is reported under its own container name
    const mark = events.length;
    const r = await h.cri.execSync(pod.containers[0].id, ['cat', '/etc/secret']);
    assert.equal(r.exitCode, 0);
    await waitFor(() => events.slice(mark).some((x) => x.kind === 'file' && x.container?.name === 'proxy' && x.trace?.name === 'mesh'), 5000, "the sidecar's read");
    // a sidecar that stopped is not a silent Ready
    status.status.initContainerStatuses[1] = { ...proxy, state: { waiting: { reason: 'CrashLoopBackOff' } }, containerID: undefined };
    await ok('PATCH', '/api/v1/namespaces/team-s/pods/meshed/status', JSON.stringify(status), 'application/merge-patch+json');
    const down = await untilEntry('team-s', 'mesh', NODE, (x) => x.conditions?.[0]?.status === 'False', 'the stopped sidecar unresolved');
    assert.deepEqual(down.unresolved.map((u) => [u.path, u.reason]), [['*', 'container not running']]);
    await ok('DELETE', '/apis/hive.io/v1alpha1/namespaces/team-s/hivetraces/mesh');
    await ok('DELETE', '/api/v1/namespaces/team-s/pods/meshed?gracePeriodSeconds=0');
    await h.removePod(pod);
  });

  test('a deleted pod leaves no entries', async () => {
    await ok('DELETE', '/api/v1/namespaces/team-a/pods/web-1?gracePeriodSeconds=0');
    await ok('DELETE', '/api/v1/namespaces/team-a/pods/web-3?gracePeriodSeconds=0');
    await reconciled('team-a/secrets', (l) => l.podsMatched === 0 && l.filesWatched === 0);
    await inodes(0);
  });

  test('50 pods and their trace created and deleted: the series return to the baseline', async () => {
    const key = (x: { name: string; labels: Record<string, string> }) => `${x.name}${JSON.stringify(x.labels)}`;
    const series = async () => new Set((await metrics()).filter((x) => x.name !== 'hive_api_errors_total').map(key));
    const baseline = await series();
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-p' } });
    await ok('POST', '/apis/hive.io/v1alpha1/namespaces/team-p/hivetraces', {
      apiVersion: 'hive.io/v1alpha1',
      kind: 'HiveTrace',
      metadata: { name: 'churn', namespace: 'team-p' },
      spec: { paths: ['/etc/secret'], selector: { matchLabels: { app: 'churn' } }, network: { mode: 'monitor' } },
    });
    for (let i = 0; i < 50; i++) {
      await ok('POST', '/api/v1/namespaces/team-p/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: `churn-${i}`, labels: { app: 'churn' } }, spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] } });
    }
    await reconciled('team-p/churn', (l) => l.podsMatched === 50);
    const during = [...(await series())].filter((k) => !baseline.has(k));
    assert.ok(during.some((k) => k.includes('team-p/churn')), `per-trace series while it exists: ${during}`);
    for (let i = 0; i < 50; i++) await ok('DELETE', `/api/v1/namespaces/team-p/pods/churn-${i}?gracePeriodSeconds=0`);
    await reconciled('team-p/churn', (l) => l.podsMatched === 0);
    await ok('DELETE', '/apis/hive.io/v1alpha1/namespaces/team-p/hivetraces/churn');
    await reconciled('team-p/churn', (l) => l.present === false);
    const now = await series();
    console.log(`# series: baseline ${baseline.size}, with the trace and 50 pods ${baseline.size + during.length}, after ${now.size}`);
    assert.deepEqual([...now].filter((k) => !baseline.has(k)), []);
    assert.equal(now.size, baseline.size);
  });

  // Network: a "pod" is a network namespace behind a host veth (testing/netns.ts);
  // its Pod object carries that address, as the kubelet would report it.
  const NET_POD_IP = '10.203.1.2';
  const netEvents = (mark: number) => events.slice(mark).filter((e) => e.kind === 'network');

  test('network mode monitor: the pod\'s flows carry trace and pod; cluster CIDRs come from the Node object', async () => {
    topo = new Topology(`he${process.pid % 100000}`);
    await topo.podAndPeers({ pod: '10.203.1', cluster: '10.203.3', external: '198.18.7' }, 443, 'n');
    await ok('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE }, spec: { podCIDRs: ['10.203.0.0/16'] } });
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-n' } });
    const body = await ok('POST', '/api/v1/namespaces/team-n/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'net-1', labels: { app: 'net' } },
      spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] },
    });
    const uid = (body.metadata as { uid: string }).uid;
    await ok('PATCH', '/api/v1/namespaces/team-n/pods/net-1/status', JSON.stringify({ status: { phase: 'Running', podIP: NET_POD_IP, podIPs: [{ ip: NET_POD_IP }] } }), 'application/merge-patch+json');
    await ok('POST', '/apis/hive.io/v1alpha1/namespaces/team-n/hivetraces', {
      apiVersion: 'hive.io/v1alpha1',
      kind: 'HiveTrace',
      metadata: { name: 'egress', namespace: 'team-n' },
      spec: { selector: { matchLabels: { app: 'net' } }, network: { mode: 'monitor' } },
    });
    await reconciled('team-n/egress', (l) => l.podAddressesMonitored === 1);
    await waitFor(() => /clsact/.test(tc('qdisc', 'show', 'dev', topo!.host('n').hostVeth)), 5000, 'TC filters on the pod veth');
    const mark = events.length;
    const ext = await topo.run('n', TCP_CLIENT('198.18.7.2', 443));
    assert.equal(ext.code, 0);
    const cl = await topo.run('n', TCP_CLIENT('10.203.3.2', 443));
    assert.equal(cl.code, 0);
    await waitFor(() => netEvents(mark).filter((e) => e.event === 'new').length >= 2, 5000, 'two new flows');
    const [toExt, toCluster] = ['198.18.7.2', '10.203.3.2'].map((ip) => netEvents(mark).find((e) => e.event === 'new' && e.dst.ip === ip)!);
    assert.deepEqual(toExt.trace, { namespace: 'team-n', name: 'egress' });
    assert.deepEqual(toExt.pod, { namespace: 'team-n', name: 'net-1', uid, ip: NET_POD_IP });
    assert.equal(toExt.node, NODE);
    assert.equal(toExt.scope, 'external');
    assert.equal(toExt.verdict, 'allowed');
    assert.equal(toExt.process.pid, JSON.parse(ext.stdout).pid);
    assert.equal(toCluster.scope, 'cluster', "10.203.0.0/16 is the Node's pod CIDR");
    console.log(`# agent network event: ${JSON.stringify(toExt)}`);
  });

  test('network mode block-external: external connects dropped and reported, cluster ones kept; metrics and status', async () => {
    await ok('PATCH', '/apis/hive.io/v1alpha1/namespaces/team-n/hivetraces/egress', JSON.stringify({ spec: { network: { mode: 'block-external' } } }), 'application/merge-patch+json');
    await waitFor(() => logs.filter((l) => l.msg === 'reconciled' && l.trace === 'team-n/egress').length >= 2, 5000, 'reconcile after the change');
    const mark = events.length;
    const ext = await topo!.run('n', TCP_CLIENT('198.18.7.2', 443, 1000));
    assert.equal(ext.code, 3, 'blocked');
    const cl = await topo!.run('n', TCP_CLIENT('10.203.3.2', 443));
    assert.equal(cl.code, 0, 'cluster traffic kept');
    await waitFor(() => netEvents(mark).some((e) => e.verdict === 'blocked'), 5000, 'a blocked event');
    const b = netEvents(mark).find((e) => e.verdict === 'blocked')!;
    assert.equal(b.dst.ip, '198.18.7.2');
    assert.equal(b.pod.name, 'net-1');
    const port = logs.find((l) => l.msg === 'ready')!.metricsPort as number;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /hive_network_blocked_packets_total\{namespace="team-n",pod="net-1"\} [1-9]/);
    assert.match(text, /hive_network_flows_total\{namespace="team-n",pod="net-1",scope="external",verdict="allowed"\} [1-9]/);
    assert.match(text, /hive_network_flows_total\{namespace="team-n",pod="net-1",scope="external",verdict="blocked"\} [1-9]/);
    assert.match(text, /hive_network_interfaces 1/);
    let entry: { podAddressesMonitored?: number } | undefined;
    for (let i = 0; i < 50 && entry?.podAddressesMonitored !== 1; i++) {
      const r = await cluster.request('GET', '/apis/hive.io/v1alpha1/namespaces/team-n/hivetraces/egress');
      entry = ((r.body.status as { nodes?: { node: string; podAddressesMonitored?: number }[] })?.nodes ?? []).find((n) => n.node === NODE);
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(entry?.podAddressesMonitored, 1);
  });

  test('a deleted network trace detaches from the pod veth and lets traffic through', async () => {
    await ok('DELETE', '/apis/hive.io/v1alpha1/namespaces/team-n/hivetraces/egress');
    await reconciled('team-n/egress', (l) => l.present === false);
    await waitFor(() => !/clsact/.test(tc('qdisc', 'show', 'dev', topo!.host('n').hostVeth)), 5000, 'filters removed');
    const mark = events.length;
    assert.equal((await topo!.run('n', TCP_CLIENT('198.18.7.2', 443))).code, 0);
    await settle();
    assert.deepEqual(netEvents(mark), []);
  });

  test("a deleted pod's network series are released", async () => {
    const mine = async () => (await metrics()).filter((x) => x.labels.pod === 'net-1' && x.name.startsWith('hive_network_'));
    assert.ok((await mine()).length >= 3, 'flows and blocked packets of net-1 (the pod still exists)');
    await ok('DELETE', '/api/v1/namespaces/team-n/pods/net-1?gracePeriodSeconds=0');
    let left = await mine();
    for (let i = 0; i < 100 && left.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = await mine();
    }
    assert.deepEqual(left, []);
  });

  test('watches follow their paths: a ConfigMap volume rotated as kubelet does it, and a file that appears later (Ready False -> True)', async () => {
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-r' } });
    await createPod('team-r', 'cm-1', { app: 'cm' });
    const ctr = pods['team-r/cm-1'].pod.containers[0];
    const sh = async (cmd: string) => assert.equal((await h.cri.execSync(ctr.id, ['sh', '-c', cmd])).exitCode, 0, cmd);
    // the volume as kubelet's atomic writer lays it out
    const v1 = '..2026_12_01_10_00_00.123456789';
    await sh(`mkdir -p /etc/config/${v1} && echo v1 > /etc/config/${v1}/key && ln -s ${v1} /etc/config/..data && ln -s ..data/key /etc/config/key`);
    await ok('POST', '/apis/hive.io/v1alpha1/namespaces/team-r/hivetraces', {
      apiVersion: 'hive.io/v1alpha1',
      kind: 'HiveTrace',
      metadata: { name: 'rotation', namespace: 'team-r' },
      spec: { paths: ['/etc/config/key', '/run/late/token'], selector: { matchLabels: { app: 'cm' } }, access: ['read'] },
    });
    const until = (pred: (e: NodeStatus) => boolean, what: string) => untilEntry('team-r', 'rotation', NODE, pred, what);
    const pending = await until((e) => e.filesWatched === 1 && e.conditions[0].status === 'False', 'the late path unresolved');
    assert.deepEqual(pending.unresolved.map((u) => u.path), ['/run/late/token']);
    assert.match(pending.unresolved[0].reason, /no such file or directory/);

    const root = `/proc/${ctr.pid}/root`;
    const oldIno = fs.statSync(`${root}/etc/config/key`).ino;
    const v2 = '..2026_12_01_10_05_00.987654321';
    await sh(`mkdir /etc/config/${v2} && echo v2 > /etc/config/${v2}/key && ln -s ${v2} /etc/config/..data_tmp && mv -T /etc/config/..data_tmp /etc/config/..data && rm -rf /etc/config/${v1}`);
    const newIno = fs.statSync(`${root}/etc/config/key`).ino;
    assert.notEqual(newIno, oldIno);
    await waitFor(() => logs.some((l) => l.msg === 'watch re-resolved' && l.path === '/etc/config/key' && (l.newIno as string[]).includes(String(newIno))), 1000, 'the rotation followed');
    const mark = events.length;
    await sh('cat /etc/config/key > /dev/null');
    await waitFor(() => events.slice(mark).some((e) => e.trace?.name === 'rotation'), 5000, 'the read after the rotation');
    const e = events.slice(mark).find((x) => x.trace?.name === 'rotation')!;
    assert.equal(e.inode, newIno);
    assert.equal(e.path, '/etc/config/key');
    assert.deepEqual(e.pod, { namespace: 'team-r', name: 'cm-1', uid: pods['team-r/cm-1'].uid });
    assert.ok(total(await metrics(), 'hive_watch_reresolved_total', { cause: 'notify' }) >= 1, 'hive_watch_reresolved_total{cause="notify"}');

    await sh('mkdir -p /run/late && echo t > /run/late/token');
    const ready = await until((x) => x.filesWatched === 2 && x.conditions[0].status === 'True', 'the late file watched, Ready');
    assert.deepEqual(ready.unresolved, []);
    const mark2 = events.length;
    await sh('cat /run/late/token > /dev/null');
    await waitFor(() => events.slice(mark2).some((x) => x.path === '/run/late/token'), 5000, 'the read of the late file');
    assert.equal(events.slice(mark2).find((x) => x.path === '/run/late/token')!.inode, fs.statSync(`${root}/run/late/token`).ino);
    await ok('DELETE', '/apis/hive.io/v1alpha1/namespaces/team-r/hivetraces/rotation');
  });

  test('--cri-socket: containers found over CRI (ContainerStatus), a trace enforced through it', async () => {
    const node = 'node-cri';
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-c' } });
    const body = await ok('POST', '/api/v1/namespaces/team-c/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'cri-1', labels: { app: 'web' } }, spec: { nodeName: node, containers: [{ name: 'app', image: IMAGE }] } });
    const uid = (body.metadata as { uid: string }).uid;
    await ok('POST', '/apis/hive.io/v1alpha1/namespaces/team-c/hivetraces', { ...trace, metadata: { name: 'secrets', namespace: 'team-c' } });
    // containerd's API is not used: its socket does not exist for this agent
    const cri: AgentProcess = await startAgent(['--cri-socket', h.socket, '--status-interval', '1'], { KUBECONFIG: agentKubeconfig, NODE_NAME: node, CONTAINERD_ADDRESS: '/nonexistent/containerd.sock' });
    try {
      assert.deepEqual(cri.logs.find((l) => l.msg === 'ready')!.runtime, { cri: h.socket });
      const until = (pred: (e: NodeStatus) => boolean, what: string) => untilEntry('team-c', 'secrets', node, pred, what);
      // no containerID in the pod's status yet
      await until((e) => e.unresolved.some((u) => u.reason === 'container not running') && e.conditions[0].status === 'False', 'unresolved: container not running');
      const pod = await h.runPod('cri-1', ['app'], 'team-c', uid);
      await ok('PATCH', '/api/v1/namespaces/team-c/pods/cri-1/status', runningPodStatus(pod.containers, '127.0.0.1', IMAGE), 'application/merge-patch+json');
      await until((e) => e.filesWatched === 1 && e.conditions[0].status === 'True', 'watched over CRI');
      const r = await h.cri.execSync(pod.containers[0].id, ['cat', '/etc/secret']);
      assert.equal(r.exitCode, 0);
      await waitFor(() => cri.events.some((e) => e.process?.comm === 'cat'), 5000, 'the event from the CRI agent');
      const e = cri.events.find((x) => x.process?.comm === 'cat')!;
      assert.deepEqual(e.container, { name: 'app', id: pod.containers[0].id, image: IMAGE });
      assert.deepEqual(e.pod, { namespace: 'team-c', name: 'cri-1', uid });
      assert.equal(e.node, node);
      assert.deepEqual(e.trace, { namespace: 'team-c', name: 'secrets' });
      await until((x) => x.eventsSeen >= 1, 'eventsSeen');
    } finally {
      assert.equal(await cri.stop(), 0);
    }
  });

  test('a bad kubeconfig or a missing NODE_NAME: one line, exit 2, nothing left running', async () => {
    const env = { ...process.env, CONTAINERD_ADDRESS: h.socket, NODE_NAME: NODE, KUBECONFIG: '/nonexistent/kubeconfig' };
    assertOneLineError(await hive(['agent', '--metrics-port', '0'], { env }), /^cannot load the kubeconfig \(\/nonexistent\/kubeconfig\)/);
    assertOneLineError(await hive(['agent'], { env: { ...env, NODE_NAME: '' } }), /NODE_NAME is not set/);
  });

  test('SIGTERM detaches and exits 0 within 5 s', async () => {
    const t0 = Date.now();
    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    agent.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    assert.ok(logs.some((l) => l.msg === 'stopped'));
  });
});
