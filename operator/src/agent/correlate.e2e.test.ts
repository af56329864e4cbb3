// spec.correlate end to end: a real API server, a real containerd (the
// harness; the test plays the kubelet), the real kernel (file access and TC
// programs) and a real `hive agent`. A "pod" here is a Pod object whose
// container runs in containerd (its reads are the watched file's) and whose
// reported address is a network namespace behind a host veth
// (testing/netns.ts), beside a "cluster" peer inside the Node's pod CIDR and
// an "external" peer outside it. The agent joins per pod (uid) the file
// event of a read with the flow of an external connection that follows it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, clusterSkip, freePort } from '../testing/cluster';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { kernelSkip, sleep, waitFor } from '../testing/kernel';
import { Topology, netnsSkip, tc, TCP_CLIENT } from '../testing/netns';
import { AgentProcess, runningPodStatus, startAgent, total } from '../testing/agent-process';

const NODE = 'corr-1';
const NS = 'corr';
const TRACE = 'secrets';
const WINDOW_S = 4;
const BLOCK_S = 8;
const EXTERNAL = '198.18.9.2';
const CLUSTER_PEER = '10.204.3.2';
const skip = clusterSkip() || containerdSkip() || kernelSkip() || netnsSkip();

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('HiveTrace spec.correlate: read-then-egress alerts and blocks', { skip }, () => {
  let cluster: TestCluster;
  let h: ContainerdHarness;
  let agent: AgentProcess;
  let topo: Topology;
  const pods: Record<string, { uid: string; pod: Pod; ip: string }> = {};

  const ok = (method: string, p: string, body?: unknown, contentType?: string) => cluster.ok(method, p, body, contentType);
  const tracePath = `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces/${TRACE}`;
  const entry = () => cluster.traceNodeStatus(NS, TRACE, NODE);
  const until = (pred: (e: any) => boolean, what: string, tries = 150) => cluster.untilTraceNodeStatus(NS, TRACE, NODE, pred, what, tries);

  async function createPod(name: string, ip: string) {
    const body = await ok('POST', `/api/v1/namespaces/${NS}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { corr: 'yes' } }, spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] } });
    const uid = (body.metadata as { uid: string }).uid;
    const pod = await h.runPod(name, ['app'], NS, uid);
    pods[name] = { uid, pod, ip };
    await ok('PATCH', `/api/v1/namespaces/${NS}/pods/${name}/status`, runningPodStatus(pod.containers, ip, IMAGE), 'application/merge-patch+json');
  }

  /** The pod reads the watched secret (cat in its container). */
  const read = async (name: string) => assert.equal((await h.cri.execSync(pods[name].pod.containers[0].id, ['cat', '/etc/secret'])).exitCode, 0);
  /** A TCP connect from the pod's network namespace; the exit code (0 answered, 3 failed). */
  const connect = async (name: string, ip: string, timeoutMs = 1500) => (await topo.run(name, TCP_CLIENT(ip, 443, timeoutMs))).code;
  const alerts = (mark = 0) => agent.events.slice(mark).filter((e) => e.kind === 'alert');
  const flowsTo = (mark: number, pod: string, ip: string) => agent.events.slice(mark).filter((e) => e.kind === 'network' && e.event === 'new' && e.pod.name === pod && e.dst.ip === ip);
  const fileReads = (mark: number, pod: string) => agent.events.slice(mark).filter((e) => e.kind === 'file' && e.pod?.name === pod);

  before(async () => {
    cluster = TestCluster.start(await freePort());
    await cluster.installCrd();
    h = await ContainerdHarness.start();
    topo = new Topology(`hc${process.pid % 100000}`);
    // leak: reads then connects; talk: only connects; reader: only reads (no interface needed)
    await topo.podAndPeers({ pod: '10.204.1', cluster: '10.204.3', external: '198.18.9' }, 443, 'leak');
    topo.add('talk', '10.204.2');
    await ok('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE }, spec: { podCIDRs: ['10.204.0.0/16'] } });
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await createPod('leak', '10.204.1.2');
    await createPod('talk', '10.204.2.2');
    await createPod('reader', '10.204.4.2');
    // network mode absent: correlate implies monitor for the selected pods
    await ok('POST', `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces`, {
      apiVersion: 'hive.io/v1alpha1',
      kind: 'HiveTrace',
      metadata: { name: TRACE, namespace: NS },
      spec: { paths: ['/etc/secret'], selector: { matchLabels: { corr: 'yes' } }, access: ['read'], correlate: { withinSeconds: WINDOW_S } },
    });
    agent = await startAgent(['--resync-interval', '3600', '--status-interval', '2'], { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket });
    await until((e) => e.filesWatched === 3 && e.podAddressesMonitored === 3, 'three pods watched and monitored');
    for (const p of ['leak', 'talk']) await waitFor(() => /clsact/.test(tc('qdisc', 'show', 'dev', topo.host(p).hostVeth)), 5000, `TC filters on ${p}'s veth`);
  });

  after(async () => {
    await agent?.stop();
    await h?.stop();
    cluster?.stop();
    topo?.destroy();
  });

  test('a read then an external connect: exactly one alert naming the file event and the flow; counted', { timeout: 60_000 }, async () => {
    const mark = agent.events.length;
    await read('leak');
    assert.equal(await connect('leak', EXTERNAL), 0);
    await waitFor(() => alerts(mark).length > 0, 5000, 'an alert');
    // more egress in the same window: no second alert
    assert.equal(await connect('leak', EXTERNAL), 0);
    await waitFor(() => flowsTo(mark, 'leak', EXTERNAL).length === 2, 5000, 'the second flow reported');
    await sleep(1000);
    const got = alerts(mark);
    assert.equal(got.length, 1, JSON.stringify(got));
    const a = got[0];
    console.log(`# alert: ${JSON.stringify(a)}`);
    assert.equal(a.alert, 'read-then-egress');
    assert.equal(a.node, NODE);
    assert.deepEqual(a.trace, { namespace: NS, name: TRACE });
    assert.deepEqual(a.pod, { namespace: NS, name: 'leak', uid: pods.leak.uid });
    assert.equal(a.withinSeconds, WINDOW_S);
    assert.ok(a.delay_ms >= 0 && a.delay_ms <= WINDOW_S * 1000, `delay ${a.delay_ms}`);
    assert.equal(a.file.kind, 'file');
    assert.equal(a.file.path, '/etc/secret');
    assert.deepEqual(a.file.access, ['read']);
    assert.equal(a.file.process.comm, 'cat');
    assert.equal(a.file.container.id, pods.leak.pod.containers[0].id);
    assert.deepEqual([a.flow.src.ip, a.flow.dst.ip, a.flow.dst.port, a.flow.proto, a.flow.scope, a.flow.direction], ['10.204.1.2', EXTERNAL, 443, 'tcp', 'external', 'egress']);
    assert.equal(a.block, undefined, 'no block asked for');
    // the flow it names is the first of the two, as reported on its own
    assert.deepEqual(a.flow, flowsTo(mark, 'leak', EXTERNAL)[0]);
    assert.ok(fileReads(mark, 'leak').some((f) => f.time === a.file.time), 'the file event it names was reported');
    const m = await agent.metrics();
    assert.equal(total(m, 'hive_alerts_total', { trace: `${NS}/${TRACE}`, alert: 'read-then-egress' }), 1);
    assert.equal(total(m, 'hive_egress_blocked_pods'), 0);
  });

  test('only a read, only a connect, a connect to the cluster, a connect after the window: no alert', { timeout: 60_000 }, async () => {
    const mark = agent.events.length;
    await read('reader');
    assert.equal(await connect('talk', EXTERNAL), 0);
    await read('leak');
    assert.equal(await connect('leak', CLUSTER_PEER), 0);
    await waitFor(() => fileReads(mark, 'reader').length > 0 && flowsTo(mark, 'talk', EXTERNAL).length > 0 && flowsTo(mark, 'leak', CLUSTER_PEER).length > 0, 5000, 'both halves reported');
    assert.equal(flowsTo(mark, 'leak', CLUSTER_PEER)[0].scope, 'cluster');
    // the read above opened leak's window; let it pass
    await sleep(WINDOW_S * 1000 + 1000);
    assert.equal(await connect('leak', EXTERNAL), 0);
    await waitFor(() => flowsTo(mark, 'leak', EXTERNAL).length > 0, 5000, 'the late flow reported');
    await sleep(1000);
    assert.deepEqual(alerts(mark), []);
    assert.equal(total(await agent.metrics(), 'hive_alerts_total', { trace: `${NS}/${TRACE}` }), 1, 'still the first test\'s one');
  });

  test('with block: that pod\'s next external connect fails, its cluster traffic and other pods work; status shows it; it ends', { timeout: 90_000 }, async () => {
    await ok('PATCH', tracePath, JSON.stringify({ spec: { correlate: { withinSeconds: WINDOW_S, block: { seconds: BLOCK_S } } } }), 'application/merge-patch+json');
    await waitFor(() => agent.logs.some((l) => l.msg === 'reconciled' && l.trace === `${NS}/${TRACE}` && l.causes?.includes('spec')), 5000, 'the spec change seen');
    // the window of the previous test's reads has passed; a new read opens one
    const mark = agent.events.length;
    await read('leak');
    assert.equal(await connect('leak', EXTERNAL), 0, 'the connection that raises the alert is already made');
    await waitFor(() => alerts(mark).length > 0, 5000, 'an alert');
    const a = alerts(mark)[0];
    assert.ok(a.block, JSON.stringify(a));
    const untilMs = Date.parse(a.block.until);
    assert.ok(Math.abs(untilMs - Date.parse(a.block.since) - BLOCK_S * 1000) < 50, JSON.stringify(a.block));

    assert.equal(await connect('leak', EXTERNAL, 1000), 3, 'blocked: the next external connect fails');
    assert.equal(await connect('leak', CLUSTER_PEER), 0, 'cluster traffic still works');
    assert.equal(await connect('talk', EXTERNAL), 0, 'another pod is not blocked');
    await waitFor(() => agent.events.slice(mark).some((e) => e.kind === 'network' && e.pod.name === 'leak' && e.verdict === 'blocked'), 5000, 'a blocked flow reported');
    const st = await until((e) => e.blocks?.length === 1, 'the block in status');
    console.log(`# status blocks: ${JSON.stringify(st.blocks)}`);
    assert.deepEqual(st.blocks, [{ pod: 'leak', since: a.block.since, until: a.block.until, path: '/etc/secret', destination: `${EXTERNAL}:443` }]);
    const m = await agent.metrics();
    assert.equal(total(m, 'hive_egress_blocked_pods'), 1);
    assert.equal(total(m, 'hive_egress_blocks_total', { trace: `${NS}/${TRACE}` }), 1);
    assert.ok(Date.now() < untilMs, 'the checks above ran while the block held');

    // after the block's seconds, external egress works again and the status no longer lists it
    await sleep(Math.max(0, untilMs - Date.now()) + 1500);
    assert.equal(await connect('leak', EXTERNAL), 0, 'unblocked');
    await until((e) => !e.blocks, 'the block gone from status');
    assert.equal(total(await agent.metrics(), 'hive_egress_blocked_pods'), 0);
    assert.ok(agent.logs.some((l) => l.msg === 'external egress unblocked' && l.why === 'expired'));
  });
});
