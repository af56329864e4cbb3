// The access inventory end to end: a real API server, a real containerd (the
// harness, the test as kubelet), a real kernel and a real `hive agent`. Three
// processes with distinct executables read the watched secret a known number
// of times (one of them 500 times in a loop, so the kernel folds the storm
// into records with a count); the trace's status entry for the node then
// lists exactly those counts, and a fourth executable pushes the oldest out
// past --inventory-size (counted in omitted). Writing the inventory never
// bumps the trace's generation nor re-triggers a reconcile; a restarted
// agent keeps the inventory and, with nothing new, writes nothing. `hive
// report` renders the same entries.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { TestCluster, clusterSkip, freePort } from '../testing/cluster';
import { ContainerdHarness, IMAGE, Pod, containerdSkip } from '../testing/containerd-harness';
import { kernelSkip, sleep, waitFor } from '../testing/kernel';
import { AgentProcess, runningPodStatus, startAgent, total } from '../testing/agent-process';
import { hive } from '../testing/cli';
import { executableOf } from './inventory';

const NODE = 'inv-1';
const NS = 'inv';
const TRACE = 'who-read-it';
const POD_IP = '10.203.78.5';
const SIZE = 3;
const skip = clusterSkip() || containerdSkip() || kernelSkip();

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('access inventory in HiveTrace status', { skip }, () => {
  let cluster: TestCluster;
  let h: ContainerdHarness;
  let agent: AgentProcess;
  let pod: Pod;
  const agentArgs = ['--resync-interval', '3600', '--status-interval', '3600', '--inventory-interval', '1', '--inventory-size', String(SIZE)];
  let agentEnv: NodeJS.ProcessEnv;

  const ok = (method: string, p: string, body?: unknown, contentType?: string) => cluster.ok(method, p, body, contentType);
  const tracePath = `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces/${TRACE}`;
  const entry = () => cluster.traceNodeStatus(NS, TRACE, NODE);
  const until = (pred: (e: any) => boolean, what: string, tries = 200) => cluster.untilTraceNodeStatus(NS, TRACE, NODE, pred, what, tries);
  const run = async (argv: string[]) => assert.equal((await h.cri.execSync(pod.containers[0].id, argv)).exitCode, 0, argv.join(' '));
  const traceEvents = () => agent.events.filter((e) => e.kind === 'file' && e.trace?.name === TRACE);
  /** Accesses the agent reported on stdout for processes named `comm`. */
  const accessesBy = (comm: string) => traceEvents().filter((e) => e.process.comm === comm).reduce((n, e) => n + (e.count ?? 1), 0);
  /** The inventory's name for what ran as `comm`: taken from the agent's own events (exe when they carry it). */
  const exeOf = (comm: string) => executableOf(traceEvents().find((e) => e.process.comm === comm)!.process);
  const reconciles = async () => total(await agent.metrics(), 'hive_reconcile_total', { trace: `${NS}/${TRACE}` });
  const statusWrites = async () => total(await agent.metrics(), 'hive_status_writes_total', { trace: `${NS}/${TRACE}` });

  before(async () => {
    cluster = TestCluster.start(await freePort());
    await cluster.installCrd();
    h = await ContainerdHarness.start();
    await ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const p = await ok('POST', `/api/v1/namespaces/${NS}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { nodeName: NODE, containers: [{ name: 'app', image: IMAGE }] } });
    pod = await h.runPod('web', ['app'], NS, (p.metadata as { uid: string }).uid);
    // four executables of their own (busybox picks its applet from argv[0]'s
    // name): distinct by comm and by exe path alike
    const root = `/proc/${pod.containers[0].pid}/root`;
    for (const [dir, name] of [['a', 'cat'], ['b', 'head'], ['c', 'sh'], ['d', 'wc']]) {
      fs.mkdirSync(`${root}/opt/${dir}`, { recursive: true });
      fs.copyFileSync(`${root}/bin/busybox`, `${root}/opt/${dir}/${name}`);
      fs.chmodSync(`${root}/opt/${dir}/${name}`, 0o755);
    }
    await ok('PATCH', `/api/v1/namespaces/${NS}/pods/web/status`, runningPodStatus(pod.containers, POD_IP, IMAGE), 'application/merge-patch+json');
    await ok('POST', `/apis/hive.io/v1alpha1/namespaces/${NS}/hivetraces`, {
      apiVersion: 'hive.io/v1alpha1',
      kind: 'HiveTrace',
      metadata: { name: TRACE, namespace: NS },
      spec: { paths: ['/etc/secret'], selector: { matchLabels: { app: 'web' } }, access: ['read'] },
    });
    agentEnv = { KUBECONFIG: cluster.kubeconfig, NODE_NAME: NODE, CONTAINERD_ADDRESS: h.socket };
    agent = await startAgent(agentArgs, agentEnv);
  });

  after(async () => {
    await agent?.stop();
    await h?.stop();
    cluster?.stop();
  });

  test('three processes, known counts (a folded storm included), bounded at N with omitted; no generation bump, no reconcile', { timeout: 90_000 }, async () => {
    await until((e) => e.filesWatched === 1, 'watching /etc/secret');
    await sleep(300);
    const generation = ((await ok('GET', tracePath)).metadata as any).generation;
    const reconciled = await reconciles();
    const writes = await statusWrites();

    await run(['/opt/a/cat', '/etc/secret', '/etc/secret', '/etc/secret']);
    await run(['/opt/b/head', '/etc/secret', '/etc/secret']);
    await run(['/opt/c/sh', '-c', 'i=0; while [ $i -lt 500 ]; do read x < /etc/secret; i=$((i+1)); done']);
    await waitFor(() => accessesBy('cat') === 3 && accessesBy('head') === 2 && accessesBy('sh') === 500, 10_000, `the accesses on stdout: ${[accessesBy('cat'), accessesBy('head'), accessesBy('sh')]}`);
    assert.ok(traceEvents().some((e) => e.process.comm === 'sh' && e.count > 1), 'the kernel folded the storm: a record with a count');

    const want = new Map([
      [exeOf('cat'), 3],
      [exeOf('head'), 2],
      [exeOf('sh'), 500],
    ]);
    assert.equal(want.size, 3, 'three executables');
    const e = await until((x) => x.inventory?.entries.length === 3 && x.inventory.entries.every((i: any) => want.get(i.exe) === i.count), 'the inventory counts');
    console.log(`# inventory: ${JSON.stringify(e.inventory)}`);
    assert.equal(e.inventory.omitted, 0);
    for (const i of e.inventory.entries) {
      assert.deepEqual([i.pod, i.container, i.path, i.access, i.uid], ['web', 'app', '/etc/secret', 'read', 0]);
      assert.ok(i.firstSeen <= i.lastSeen);
    }
    assert.deepEqual(e.inventory.entries.map((i: any) => i.count), [500, 2, 3], 'the most recently seen first');

    // what a user runs: the real kubectl shows the same inventory in the object
    const kubectl = spawnSync('bash', [path.resolve(__dirname, '../../../test/cluster/kubectl.sh'), 'get', 'ht', TRACE, '-n', NS, '-o', 'yaml'], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
    assert.equal(kubectl.status, 0, kubectl.stderr);
    console.log(`# kubectl get ht ${TRACE} -n ${NS} -o yaml:\n${kubectl.stdout.replace(/^/gm, '#   ')}`);
    const shown = (parseYaml(kubectl.stdout).status.nodes as any[]).find((n) => n.node === NODE);
    assert.deepEqual(shown.inventory.entries.map((i: any) => [i.exe, i.count]), e.inventory.entries.map((i: any) => [i.exe, i.count]), 'kubectl shows the inventory');

    // a fourth executable: the oldest (cat) goes past the bound, counted
    await run(['/opt/d/wc', '/etc/secret']);
    await waitFor(() => accessesBy('wc') === 1, 5000, 'the wc access on stdout');
    const four = await until((x) => x.inventory?.omitted === 1, 'bounded at N');
    assert.deepEqual(four.inventory.entries.map((i: any) => [i.exe, i.count]), [[exeOf('wc'), 1], [exeOf('sh'), 500], [exeOf('head'), 2]]);

    // the inventory writes: status only, no generation bump, no reconcile
    assert.ok((await statusWrites()) >= writes + 2, 'the inventory was written (at least twice)');
    assert.equal(((await ok('GET', tracePath)).metadata as any).generation, generation);
    await sleep(1500);
    assert.equal(await reconciles(), reconciled, 'no reconcile from the agent\'s own status writes');
  });

  test('hive report renders it; a bad --trace is exit 2, a missing trace one line', { timeout: 30_000 }, async () => {
    const env = { ...process.env, KUBECONFIG: cluster.kubeconfig };
    const table = await hive(['report', '--trace', `${NS}/${TRACE}`], { env });
    console.log(`# hive report:\n${table.stdout.replace(/^/gm, '#   ')}`);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^NODE +POD +CONTAINER +EXE +PATH +ACCESS +COUNT +LAST SEEN +UID$/);
    assert.deepEqual(
      lines.slice(1, 4).map((l) => l.split(/ {2,}/)).map((c) => [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[8]]),
      [
        [NODE, 'web', 'app', exeOf('wc'), '/etc/secret', 'read', '1', '0'],
        [NODE, 'web', 'app', exeOf('sh'), '/etc/secret', 'read', '500', '0'],
        [NODE, 'web', 'app', exeOf('head'), '/etc/secret', 'read', '2', '0'],
      ],
    );
    assert.equal(lines[4], `(1 less recently seen entry of ${NS}/${TRACE} on ${NODE} not in its status)`);
    const json = await hive(['report', '--json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(doc.entries.map((r: any) => [r.trace, r.node, r.count]), [[`${NS}/${TRACE}`, NODE, 1], [`${NS}/${TRACE}`, NODE, 500], [`${NS}/${TRACE}`, NODE, 2]]);
    assert.deepEqual(doc.omitted, [{ trace: `${NS}/${TRACE}`, node: NODE, omitted: 1 }]);
    const bad = await hive(['report', '--trace', 'who-read-it'], { env });
    assert.deepEqual([bad.code, bad.stderr], [2, "hive report: --trace must be NAMESPACE/NAME (lower-case DNS names), got 'who-read-it'\n"]);
    const missing = await hive(['report', '--trace', `${NS}/nope`], { env });
    assert.deepEqual([missing.code, missing.stderr, missing.stdout], [1, `hive report: HiveTrace ${NS}/nope not found\n`, '']);
  });

  test('a restarted agent keeps the inventory and, with nothing new, writes nothing; new accesses add to it', { timeout: 60_000 }, async () => {
    const stored = (await entry()).inventory;
    const head = exeOf('head');
    await agent.stop();
    agent = await startAgent(agentArgs, agentEnv);
    await waitFor(() => agent.logs.some((l) => l.msg === 'reconciled' && l.trace === `${NS}/${TRACE}`), 10_000, 'the restarted agent reconciled');
    await sleep(2500);
    assert.equal(await statusWrites(), 0, 'nothing new: no write');
    assert.deepEqual((await entry()).inventory, stored);
    await run(['/opt/b/head', '/etc/secret']);
    const e = await until((x) => x.inventory.entries[0].exe === head, 'head again, most recent');
    assert.equal(e.inventory.entries[0].count, 3, 'the stored 2 and the new 1');
    assert.equal(e.inventory.omitted, 1);
  });
});
