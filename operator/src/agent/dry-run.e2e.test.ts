// spec.dryRun end to end: a real API server, a real containerd (the harness,
// the test as kubelet) and a real `hive agent`. A dry run reports in status
// how the paths resolve (a projected volume's ..data chain, an image symlink
// escaping the root shown confined, a missing path) and the pod address it
// would monitor, and attaches nothing: the agent's own kernel watch map
// (found through its file descriptors, read with bpftool) stays empty, the
// registry and network gauges stay 0, a read makes no event. Flipping dryRun
// to false starts watching (the key appears in the kernel map, reads make
// events); back to true stops. Status writes never re-trigger a reconcile.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TestCluster, clusterSkip, freePort } from '../testing/cluster';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { commandSkip } from '../testing/require';
import { kernelSkip, sleep, waitFor } from '../testing/kernel';
import { AgentProcess, runningPodStatus, startAgent, total } from '../testing/agent-process';
import { formatDev, kernelDevFromStat } from '../sys/devnum';
import { dumpMap, processMapsNamed } from '../testing/bpf-maps';

const NODE = 'dry-1';
const NS = 'dry';
const TRACE = 'explain-me';
const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const TS = '..2026_12_02_10_00_00.123456789';
const POD_IP = '10.203.77.5';
const skip = clusterSkip() || containerdSkip() || kernelSkip() || commandSkip(['bpftool'], 'Debian bpftool');

/** The (ino, dev) keys in the `watched` map of the process `pid` (its own map, by its file descriptors). */
function kernelWatched(pid: number): string[] {
  const watched = processMapsNamed(pid, 'watched').map((m) => m.id);
  assert.equal(watched.length, 1, `one watched map among the agent's maps`);
  return dumpMap(watched[0]).map(({ key }) => {
    const b = Buffer.from(key.map((x) => parseInt(x, 16)));
    return `${b.readBigUInt64LE(0)}@${formatDev(b.readUInt32LE(8))}`;
  });
}

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('HiveTrace spec.dryRun', { skip }, () => {
  let cluster: TestCluster;
  let h: ContainerdHarness;
  let agent: AgentProcess;
  let pod: Pod;
  let secretKey = '';
  let tokenIno = '';

  const ok = (method: string, p: string, body?: unknown, contentType?: string) => cluster.ok(method, p, body, contentType);
  const tracePath = `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces/${TRACE}`;
  const entry = () => cluster.traceNodeStatus(NS, TRACE, NODE);
  const until = (pred: (e: any) => boolean, what: string, tries = 150) => cluster.untilTraceNodeStatus(NS, TRACE, NODE, pred, what, tries);
  const setDryRun = (dryRun: boolean) => ok('PATCH', tracePath, JSON.stringify({ spec: { dryRun } }), 'application/merge-patch+json');
  const cat = async (p: string) => assert.equal((await h.cri.execSync(pod.containers[0].id, ['cat', p])).exitCode, 0);
  const fileEvents = (since: number) => agent.events.slice(since).filter((e) => e.kind === 'file' && e.trace?.name === TRACE);

  before(async () => {
    cluster = TestCluster.start(await freePort());
    await cluster.installCrd();
    h = await ContainerdHarness.start();
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const p = await ok('POST', `/api/v1/namespaces/${NS}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] } });
    pod = await h.runPod('web', ['app'], NS, (p.metadata as { uid: string }).uid);
    // a projected service-account volume as the kubelet lays it out, made in the container's root
    const root = `/proc/${pod.containers[0].pid}/root`;
    fs.mkdirSync(`${root}${SA}/${TS}`, { recursive: true });
    fs.writeFileSync(`${root}${SA}/${TS}/token`, 'jwt');
    fs.symlinkSync(TS, `${root}${SA}/..data`);
    fs.symlinkSync('..data/token', `${root}${SA}/token`);
    tokenIno = fs.statSync(`${root}${SA}/${TS}/token`, { bigint: true }).ino.toString();
    const st = fs.statSync(`${root}/etc/secret`, { bigint: true });
    secretKey = `${st.ino}@${formatDev(kernelDevFromStat(st.dev))}`;
    await ok('PATCH', `/api/v1/namespaces/${NS}/pods/web/status`, runningPodStatus(pod.containers, POD_IP, IMAGE), 'application/merge-patch+json');
    await ok('POST', `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces`, {
      apiVersion: 'hive.io/v1alpha1',
      kind: 'HiveTrace',
      metadata: { name: TRACE, namespace: NS },
      spec: { paths: [`${SA}/token`, '/etc/secret', '/etc/shadow-escape', '/missing/x'], selector: { matchLabels: { app: 'web' } }, access: ['read'], network: { mode: 'monitor' }, dryRun: true },
    });
    // no periodic resync: every reconcile has an event as its cause
    agent = await startAgent(['--resync-interval', '3600', '--status-interval', '2'], { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket });
  });

  after(async () => {
    await agent?.stop();
    await h?.stop();
    cluster?.stop();
  });

  test('a dry run explains in status and attaches nothing', { timeout: 60_000 }, async () => {
    const e = await until((x) => x.dryRun === true && x.explain, 'the dry run reported');
    console.log(`# dry-run status: ${JSON.stringify(e)}`);
    assert.equal(e.conditions[0].reason, 'DryRun');
    assert.equal(e.conditions[0].status, 'False', 'two paths do not resolve');
    assert.match(e.conditions[0].message, /^dry run, nothing attached: 2 file\(s\) would be watched, 1 pod address\(es\) monitored in 1 pod\(s\); 2 path/);
    assert.equal(e.filesWatched, 0);
    assert.equal(e.podAddressesMonitored, 0);
    const by = (p: string) => e.explain.entries.find((x: any) => x.path === p);
    const token = by(`${SA}/token`);
    assert.equal(token.final, `${SA}/${TS}/token`);
    assert.equal(token.inode, tokenIno);
    assert.equal(token.hops, 2);
    assert.deepEqual(token.via, [`${SA}/token -> ..data/token = ${SA}/${TS}/token`, `${SA}/..data -> ${TS} = ${SA}/${TS}`]);
    assert.match(token.mount, /^overlay overlay on \/, upper layer/, 'made in the container: the upper layer');
    const secret = by('/etc/secret');
    assert.equal(`${secret.inode}@${secret.dev}`, secretKey);
    assert.match(secret.mount, /lower layer 0 \(from the image\)/);
    const escape = by('/etc/shadow-escape');
    assert.match(escape.reason, /^missing: no 'shadow' in \/etc/);
    assert.match(escape.via[0], /confined: '\.\.' climbs past the root/);
    assert.match(by('/missing/x').reason, /^missing: no 'missing' in \//);
    const addr = e.explain.entries.filter((x: any) => x.path === 'network');
    assert.deepEqual(addr.map((x: any) => x.address), [POD_IP]);
    // no CNI here: the address is routed by the default route, not through a pod veth
    assert.match(addr[0].reason, /^(routed via \S+, not a pod veth or bridge|no route to it on this host)/);
    assert.deepEqual([e.explain.files, e.explain.podAddresses, e.explain.omitted], [2, 1, 0]);
    assert.deepEqual(e.unresolved.map((u: any) => u.path).sort(), ['/etc/shadow-escape', '/missing/x']);

    // nothing attached: the agent's registry, network selection and its kernel map
    const m = await agent.metrics();
    assert.equal(total(m, 'hive_watched_inodes'), 0);
    assert.equal(total(m, 'hive_network_pod_addresses'), 0);
    assert.equal(total(m, 'hive_network_interfaces'), 0);
    assert.deepEqual(kernelWatched(agent.child.pid!), []);
    const mark = agent.events.length;
    await cat('/etc/secret');
    await sleep(1000);
    assert.deepEqual(fileEvents(mark), [], 'no event in a dry run');
  });

  test('status writes do not re-trigger reconciles', { timeout: 30_000 }, async () => {
    const before = total(await agent.metrics(), 'hive_reconcile_total', { trace: `${NS}/${TRACE}` });
    const writes = total(await agent.metrics(), 'hive_status_writes_total', { trace: `${NS}/${TRACE}` });
    assert.ok(writes >= 1);
    await sleep(4000);
    const m = await agent.metrics();
    assert.equal(total(m, 'hive_reconcile_total', { trace: `${NS}/${TRACE}` }), before);
    assert.equal(total(m, 'hive_status_writes_total', { trace: `${NS}/${TRACE}` }), writes);
  });

  test('dryRun false starts watching (kernel map, events); true again stops', { timeout: 60_000 }, async () => {
    await setDryRun(false);
    const live = await until((x) => x.dryRun === undefined && x.filesWatched === 2, 'watching');
    assert.equal(live.conditions[0].reason, 'Unresolved');
    // a live trace explains only what it could not watch
    assert.deepEqual(live.explain.entries.map((x: any) => x.path), ['/etc/shadow-escape', '/missing/x']);
    assert.deepEqual([live.explain.files, live.explain.podAddresses], [2, 1]);
    assert.ok(kernelWatched(agent.child.pid!).includes(secretKey), 'the secret is in the kernel map');
    const mark = agent.events.length;
    await cat('/etc/secret');
    await waitFor(() => fileEvents(mark).some((ev) => ev.path === '/etc/secret'), 5000, 'an event for the read');

    await setDryRun(true);
    await until((x) => x.dryRun === true && x.filesWatched === 0, 'a dry run again');
    assert.deepEqual(kernelWatched(agent.child.pid!), []);
    assert.equal(total(await agent.metrics(), 'hive_watched_inodes'), 0);
    const mark2 = agent.events.length;
    await sleep(300);
    await cat('/etc/secret');
    await sleep(1000);
    assert.deepEqual(fileEvents(mark2), []);
  });
});
