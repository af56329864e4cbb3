// The deployed system on the real node (testing/node.ts), as a user deploys
// it: the image built from the Dockerfile (make image) imported into the
// node's containerd, `make deploy` with the project's kustomize overlay, the
// DaemonSet's pod created by the real controller, scheduled by the real
// scheduler and started by the real kubelet with the manifest's privileges,
// mounts and projected token; then the demo (config/samples) read back with
// `hive logs` through the API server and the kubelet, and the faults a node
// sees: the agent pod deleted, the demo's container restarted, containerd
// restarted, a HiveTrace deleted, `make undeploy`.
//
// The API server of the test cluster listens on 127.0.0.1 and there is no
// kube-proxy (no iptables here), so the overlay points the agents at it
// directly (make deploy API_SERVER=host:port), as on kube-proxy-free clusters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { RealNode, nodeSkip, until } from '../testing/node';
import { commandSkip } from '../testing/require';
import { dumpMap, processMapsNamed } from '../testing/bpf-maps';
import { Topology, TCP_SERVER, tc } from '../testing/netns';
import { hive } from '../testing/cli';

const ROOT = path.resolve(__dirname, '../../..');
const KUBECTL = path.join(ROOT, 'test/cluster/kubectl.sh');
/** The "external" peer: a network namespace of this test (TEST-NET-2), never a real outside address. */
const EXTERNAL_NET = '198.51.100';
const PEER_PORT = 8080;
const SAMPLES = ['config/samples/demo-pod.yaml', 'config/samples/hivetrace-secrets.yaml', 'config/samples/hivetrace-egress.yaml'];

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** TC filters (both directions) on one interface: what the network monitor attaches. */
function tcFilters(dev: string): number {
  let n = 0;
  for (const dir of ['ingress', 'egress']) {
    try {
      n += tc('filter', 'show', 'dev', dev, dir).split('\n').filter((l) => /\bbpf\b/.test(l)).length;
    } catch {
      // no clsact qdisc: no filter
    }
  }
  return n;
}

/** The network monitor's `pods` maps held by the processes `pids`, with their entry counts. */
function podsMaps(pids: number[]): { id: number; entries: number }[] {
  return pids.flatMap((pid) => processMapsNamed(pid, 'pods')).map((m) => ({ id: m.id, entries: dumpMap(m.id).length }));
}

function bridgePorts(): string[] {
  try {
    return (JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', 'cni0']).toString()) as { ifname: string }[]).map((l) => l.ifname);
  } catch {
    return [];
  }
}

/** Host processes running the agent (the image's entrypoint runs operator/dist/cli/hive.js agent). */
function agentProcesses(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('/opt/hive/operator/dist/cli/hive.js')) && argv.includes('agent')) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function bpffsEntries(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      out.push(path.join(d, e.name));
      if (e.isDirectory()) walk(path.join(d, e.name));
    }
  };
  walk('/sys/fs/bpf');
  return out.sort();
}

describe('make deploy on the real node: the image, the DaemonSet, the demo, the faults', { skip: nodeSkip() || commandSkip(['bpftool'], 'apt-get install bpftool (make deps)') }, () => {
  let node: RealNode;
  let image = '';
  let bpffsBefore: string[] = [];
  const topo = new Topology('hvdep');
  const env = () => ({ ...process.env, KUBECONFIG: node.cluster.kubeconfig });
  const kubectl = (...args: string[]) => spawnSync('bash', [KUBECTL, ...args], { cwd: ROOT, encoding: 'utf8', env: env() });
  const make = (...args: string[]) =>
    spawnSync('make', ['--no-print-directory', ...args, `KUBECTL=${KUBECTL}`, `API_SERVER=${node.cluster.address}`], {
      cwd: ROOT,
      encoding: 'utf8',
      env: env(),
      timeout: 20 * 60000,
    });
  const get = async (p: string): Promise<Obj> => {
    const r = await node.cluster.request('GET', p);
    assert.equal(r.status, 200, `GET ${p}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const agentPods = async (): Promise<Obj[]> =>
    (await get('/api/v1/namespaces/hive-system/pods?labelSelector=app.kubernetes.io%2Fname%3Dhive')).items;
  const runningAgent = async (): Promise<Obj> => {
    let pod: Obj | undefined;
    await until(
      async () => {
        pod = (await agentPods()).find((p) => !p.metadata.deletionTimestamp && p.status?.containerStatuses?.[0]?.ready);
        return Boolean(pod);
      },
      120000,
      'a Ready agent pod',
    );
    return pod!;
  };
  const demoPod = () => get('/api/v1/namespaces/demo/pods/demo');
  /** The agents' events, read through the API server and the kubelet as a user reads them. */
  const events = async (...filter: string[]): Promise<Obj[]> => {
    const r = await hive(['logs', '--json', '--tail', '100000', ...filter], { env: env() });
    assert.equal(r.code, 0, `hive logs: ${r.stderr}`);
    return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };
  /** The agent's own log lines (stderr of the container) as JSON. */
  const agentLog = (pod: string): Obj[] =>
    kubectl('logs', '-n', 'hive-system', pod)
      .stdout.split('\n')
      .filter((l) => l.startsWith('{"level"'))
      .map((l) => JSON.parse(l));
  const demoContainerId = async (): Promise<string> => ((await demoPod()).status.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, '');
  /** The demo pod's host-side veth, as the network monitor names it in its flows. */
  let demoVeth = '';
  const execDemo = (cmd: string) => kubectl('exec', '-n', 'demo', 'demo', '-c', 'app', '--', 'sh', '-c', cmd);

  before(async () => {
    node = await RealNode.up({ log: (m) => console.log(`node: ${m}`) });
    bpffsBefore = bpffsEntries();
    const img = make('image', `IMPORT_TO=/run/containerd/containerd.sock`);
    assert.equal(img.status, 0, `make image: ${img.stderr.slice(-3000)}`);
    image = fs.readFileSync(path.join(ROOT, 'build/image-ref'), 'utf8').trim();
    topo.add('x', EXTERNAL_NET);
    await topo.serve('x', TCP_SERVER(`${EXTERNAL_NET}.2`, PEER_PORT));
  });
  after(async () => {
    if (!node) return;
    kubectl('delete', '--ignore-not-found', '--wait=true', '--timeout=60s', ...SAMPLES.flatMap((f) => ['-f', f]));
    make('undeploy');
    topo.destroy();
    if (node.started) {
      await node.down();
      if (node.startedCluster) node.cluster.stop();
    } else {
      node.cri.close();
    }
  });

  test('make deploy: the DaemonSet pod runs the built image with the manifest’s privileges and in-cluster config', async () => {
    const d = make('deploy', `IMAGE=${image}`, 'DEPLOY_WAIT=180s');
    assert.equal(d.status, 0, `make deploy: ${d.stdout}\n${d.stderr}`);
    assert.match(d.stdout, /successfully rolled out/);
    const pod = await runningAgent();
    assert.deepEqual(
      pod.metadata.ownerReferences.map((o: Obj) => `${o.kind}/${o.name}`),
      ['DaemonSet/hive-agent'],
      'created by the DaemonSet controller',
    );
    assert.equal(pod.spec.nodeName, node.name, 'bound by the scheduler');
    assert.equal(pod.spec.hostPID, true);
    assert.equal(pod.spec.hostNetwork, true);
    const c = pod.spec.containers[0];
    assert.equal(c.image, image);
    assert.equal(c.securityContext.privileged, true);
    assert.deepEqual(
      c.volumeMounts.map((m: Obj) => m.mountPath).sort(),
      ['/host/proc', '/run/containerd', '/sys/fs/bpf', '/sys/kernel/btf', '/sys/kernel/tracing', '/var/run/secrets/kubernetes.io/serviceaccount'],
    );
    // the kubelet started it on this host: its process is the container's, with the token and no kubeconfig
    const id = pod.status.containerStatuses[0].containerID.replace(/^containerd:\/\//, '');
    const { pid } = await node.cri.containerStatus(id);
    assert.ok(pid && agentProcesses().includes(pid), `agent process ${pid} among ${agentProcesses().join(',')}`);
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes(`KUBERNETES_SERVICE_HOST=${node.cluster.address.split(':')[0]}`), 'API_SERVER reached the pod');
    assert.ok(!environ.some((e) => e.startsWith('KUBECONFIG=')), 'no kubeconfig: in-cluster config');
    // the projected token, where the kubelet mounted it (the image's /var/run is a symlink to /run)
    const tokenDir = fs
      .readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .find((mp) => mp?.endsWith('/secrets/kubernetes.io/serviceaccount'));
    assert.ok(tokenDir, 'the ServiceAccount token volume is mounted in the agent');
    assert.match(fs.readFileSync(`/proc/${pid}/root${tokenDir}/token`, 'utf8'), /^ey/);
    const ready = agentLog(pod.metadata.name).find((l) => l.msg === 'ready');
    assert.ok(ready, 'the agent logged ready');
    assert.equal(ready.node, node.name);
    assert.deepEqual(ready.runtime, { containerd: '/run/containerd/containerd.sock' });
  });

  test('the demo: file reads and an external connection come back through hive logs; the traces are Ready on the node', async () => {
    const a = kubectl('apply', ...SAMPLES.flatMap((f) => ['-f', f]));
    assert.equal(a.status, 0, a.stderr);
    await until(async () => (await demoPod()).status?.phase === 'Running', 120000, 'demo pod Running');
    for (const name of ['secrets', 'egress']) {
      await until(
        async () => {
          const t = await get(`/apis/hive.io/v1alpha1/namespaces/demo/hivetraces/${name}`);
          return (t.status?.nodes ?? []).some(
            (n: Obj) => n.node === node.name && (n.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True'),
          );
        },
        60000,
        `HiveTrace demo/${name} Ready on ${node.name}`,
      );
    }
    const table = kubectl('get', 'ht', '-n', 'demo');
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^secrets\\s.*\\saudit\\s+${node.name}\\s+True\\s`, 'm'), table.stdout);
    assert.match(table.stdout, new RegExp(`^egress\\s.*\\smonitor\\s+audit\\s+${node.name}\\s+True\\s`, 'm'), table.stdout);

    const nc = execDemo(`nc ${EXTERNAL_NET}.2 ${PEER_PORT} </dev/null`);
    assert.equal(nc.status, 0, nc.stderr);
    assert.equal(nc.stdout.trim(), 'hello', 'the external peer answered');
    const cid = await demoContainerId();
    let ev: Obj[] = [];
    await until(
      async () => {
        ev = await events();
        const reads = (p: string) => ev.some((e) => e.kind === 'file' && e.path === p && e.access.includes('read') && e.process.comm === 'cat' && e.trace?.name === 'secrets');
        const flow = ev.some((e) => e.kind === 'network' && e.dst?.ip === `${EXTERNAL_NET}.2` && e.dst?.port === PEER_PORT);
        return reads('/etc/db/password') && reads('/var/run/secrets/kubernetes.io/serviceaccount/token') && flow;
      },
      60000,
      'the secret read, the token read and the flow to the external peer in hive logs',
    );
    // (the kubelet reads the secret volume's files too, from the host, when it refreshes them: those are events as well)
    const read = ev.find((e) => e.kind === 'file' && e.path === '/etc/db/password' && e.process.comm === 'cat')!;
    assert.ok(read, 'a read of the password by the demo’s cat');
    assert.equal(read.node, node.name);
    assert.deepEqual(read.pod, { namespace: 'demo', name: 'demo', uid: (await demoPod()).metadata.uid });
    assert.deepEqual(read.container, { name: 'app', id: cid, image: read.container.image });
    assert.ok(read.container.image, 'the image the pod status names');
    assert.deepEqual(read.trace, { namespace: 'demo', name: 'secrets' });
    const flow = ev.find((e) => e.kind === 'network' && e.dst?.ip === `${EXTERNAL_NET}.2`)!;
    assert.equal(flow.proto, 'tcp');
    assert.equal(flow.scope, 'external');
    assert.equal(flow.verdict, 'allowed');
    assert.equal(flow.src.ip, (await demoPod()).status.podIP);
    assert.deepEqual(flow.trace, { namespace: 'demo', name: 'egress' });
    assert.equal(flow.pod.name, 'demo');
    assert.ok(bridgePorts().includes(flow.interface), `the flow's interface ${flow.interface} is a CNI veth on cni0`);
    demoVeth = flow.interface;
    // the readable form, as a user follows it
    const pretty = await hive(['logs', '--tail', '100000', '--pod', 'demo/demo', '--kind', 'file'], { env: env() });
    assert.equal(pretty.code, 0, pretty.stderr);
    assert.match(pretty.stdout, new RegExp(`^${node.name} \\S+ READ\\s+/etc/db/password .* by cat\\[\\d+\\] .*pod=demo/demo container=app`, 'm'));
  });

  test('a kill trace through the deployed agent: the demo’s cat of its Secret volume file is killed, another file of the pod reads, deleting the trace lets cat read', async () => {
    const trace = {
      apiVersion: 'hive.io/v1alpha1',
      kind: 'HiveTrace',
      metadata: { name: 'guard', namespace: 'demo' },
      spec: { paths: ['/etc/db/password'], selector: { matchLabels: { app: 'demo' } }, access: ['read'], action: 'kill' },
    };
    const r = await node.cluster.request('POST', '/apis/hive.io/v1alpha1/namespaces/demo/hivetraces', trace);
    assert.equal(r.status, 201, `create the kill trace: ${JSON.stringify(r.body)}`);
    let status: Obj | undefined;
    await until(
      async () => {
        const t = await get('/apis/hive.io/v1alpha1/namespaces/demo/hivetraces/guard');
        status = (t.status?.nodes ?? []).find((n: Obj) => n.node === node.name);
        return status?.enforcement?.applied === 'kill' && status.conditions?.[0]?.status === 'True';
      },
      60000,
      'the kill trace applied on the node',
    );
    assert.deepEqual(status!.enforcement, { applied: 'kill', mode: 'tracepoint' });
    try {
      const c = execDemo('cat /etc/db/password; echo "cat exit status: $?"');
      assert.equal(c.status, 0, c.stderr);
      assert.equal(c.stdout, 'cat exit status: 137\n', 'the cat got SIGKILL and printed nothing');
      const other = execDemo('cat /var/run/secrets/kubernetes.io/serviceaccount/namespace');
      assert.deepEqual([other.status, other.stdout], [0, 'demo'], 'an unwatched file of the same pod reads');
      await until(
        async () => (await events('--pod', 'demo/demo', '--kind', 'file')).some((e) => e.trace?.name === 'guard' && e.verdict === 'killed' && e.process.comm === 'cat'),
        30000,
        'a killed line of the guard trace in hive logs',
      );
    } finally {
      const d = await node.cluster.request('DELETE', '/apis/hive.io/v1alpha1/namespaces/demo/hivetraces/guard');
      assert.equal(d.status, 200, `delete the kill trace: ${JSON.stringify(d.body)}`);
    }
    await until(() => execDemo('cat /etc/db/password').status === 0, 30000, 'the cat reads once the trace is gone');
    assert.equal(execDemo('cat /etc/db/password').stdout, 'not-a-real-password');
  });

  test('a kill trace stops its own pods only: another namespace’s pod and a host process read the host file both pods mount, reported as theirs; a pod process named kubelet gains nothing across an agent restart (SECURITY-REVIEW M1, M8, H1)', async () => {
    const shared = fs.mkdtempSync('/tmp/hive-node-shared-');
    fs.writeFileSync(path.join(shared, 'secret'), 'shared secret\n');
    const pod = (ns: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'reader', namespace: ns, labels: { app: 'reader' } },
      spec: {
        containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '3600'], volumeMounts: [{ name: 'shared', mountPath: '/shared' }] }],
        volumes: [{ name: 'shared', hostPath: { path: shared, type: 'Directory' } }],
        terminationGracePeriodSeconds: 0,
      },
    });
    const inPod = (ns: string, cmd: string) => kubectl('exec', '-n', ns, 'reader', '-c', 'app', '--', 'sh', '-c', cmd);
    const namespaces = ['m1-a', 'm1-b'];
    try {
      for (const ns of namespaces) {
        const n = await node.cluster.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
        assert.ok(n.status === 201 || n.status === 409, `namespace ${ns}: ${JSON.stringify(n.body)}`);
        const r = await node.cluster.request('POST', `/api/v1/namespaces/${ns}/pods`, pod(ns));
        assert.equal(r.status, 201, `pod in ${ns}: ${JSON.stringify(r.body)}`);
      }
      const podUid: Record<string, string> = {};
      for (const ns of namespaces) {
        await until(async () => (await get(`/api/v1/namespaces/${ns}/pods/reader`)).status?.phase === 'Running', 90000, `the reader of ${ns} running`);
        podUid[ns] = (await get(`/api/v1/namespaces/${ns}/pods/reader`)).metadata.uid;
      }
      // H1 on the real node: a shell of A's names itself kubelet, then a new agent reads the node's processes
      const impostor = inPod('m1-a', '(printf kubelet > /proc/self/comm; while :; do sleep 1; done) </dev/null >/dev/null 2>&1 &');
      assert.equal(impostor.status, 0, impostor.stderr);
      const old = await runningAgent();
      const del = kubectl('delete', 'pod', '-n', 'hive-system', old.metadata.name, '--wait=true', '--timeout=90s');
      assert.equal(del.status, 0, del.stderr);
      const fresh = await runningAgent();
      const trace = {
        apiVersion: 'hive.io/v1alpha1',
        kind: 'HiveTrace',
        metadata: { name: 'guard-shared', namespace: 'm1-a' },
        spec: { paths: ['/shared/secret'], selector: { matchLabels: { app: 'reader' } }, access: ['read'], action: 'kill' },
      };
      const c = await node.cluster.request('POST', '/apis/hive.io/v1alpha1/namespaces/m1-a/hivetraces', trace);
      assert.equal(c.status, 201, `create the trace: ${JSON.stringify(c.body)}`);
      await until(
        async () => {
          const t = await get('/apis/hive.io/v1alpha1/namespaces/m1-a/hivetraces/guard-shared');
          const st = (t.status?.nodes ?? []).find((n: Obj) => n.node === node.name);
          return st?.enforcement?.applied === 'kill' && st.filesWatched === 1 && st.conditions?.[0]?.status === 'True';
        },
        60000,
        'guard-shared killing on the node',
      );
      const warned = agentLog(fresh.metadata.name).find((l) => l.msg === 'processes named like the runtime or kubelet are not exempt');
      assert.ok(warned?.processes?.some((p: Obj) => p.comm === 'kubelet'), `the new agent names the impostor: ${JSON.stringify(warned)}`);
      const t0 = Date.now();
      const a = inPod('m1-a', 'cat /shared/secret; echo "cat exit status: $?"');
      assert.equal(a.stdout, 'cat exit status: 137\n', `A's cat is killed beside a shell named kubelet: ${a.stdout}${a.stderr}`);
      const b = inPod('m1-b', 'cat /shared/secret; echo "cat exit status: $?"');
      assert.equal(b.stdout, 'shared secret\ncat exit status: 0\n', `B's cat reads: A's trace does not select B (${b.stderr})`);
      const host = spawnSync('cat', [path.join(shared, 'secret')], { encoding: 'utf8' });
      assert.equal(host.stdout, 'shared secret\n', "the host's cat reads");
      let mine: Obj[] = [];
      await until(
        async () => {
          mine = (await events('--kind', 'file')).filter((e) => e.trace?.name === 'guard-shared' && e.process.comm === 'cat' && Date.parse(e.time) >= t0 - 1000);
          return mine.length >= 3;
        },
        30000,
        'three cat events of guard-shared in hive logs',
      );
      console.log(`# real node, guard-shared: ${JSON.stringify(mine.map((e) => ({ verdict: e.verdict, accessor: e.accessor, accessor_pod: e.accessor_pod, exe: e.process.exe, exe_inode: e.process.exe_inode })))}`);
      assert.deepEqual(mine.filter((e) => e.verdict === 'killed').map((e) => e.accessor), ['pod'], "A's read: killed, the trace's own pod");
      const other = mine.filter((e) => e.accessor === 'other-pod');
      assert.deepEqual(other.map((e) => [e.verdict, e.accessor_pod]), [['allowed', { namespace: 'm1-b', name: 'reader', uid: podUid['m1-b'] }]], "B's read: allowed, named by its cgroup");
      assert.deepEqual(mine.filter((e) => e.process.tgid === host.pid).map((e) => [e.verdict, e.accessor]), [['allowed', 'host']], "the host's read: allowed, the node's");
    } finally {
      await node.cluster.request('DELETE', '/apis/hive.io/v1alpha1/namespaces/m1-a/hivetraces/guard-shared');
      kubectl('delete', 'namespace', '--ignore-not-found', '--wait=true', '--timeout=90s', ...namespaces);
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  test('deleting the agent pod: the DaemonSet starts another; the veth’s TC filters are the same, not doubled or leaked', async () => {
    assert.ok(demoVeth, 'the demo test found the veth');
    const old = await runningAgent();
    const filters = tcFilters(demoVeth);
    assert.ok(filters > 0, `the network monitor has filters on ${demoVeth}`);
    const oldPids = agentProcesses();
    const mapsBefore = podsMaps(oldPids);
    assert.equal(mapsBefore.length, 1, `one pods map: ${JSON.stringify(mapsBefore)}`);
    assert.equal(mapsBefore[0].entries, 1, 'the demo pod’s address');
    const del = kubectl('delete', 'pod', '-n', 'hive-system', old.metadata.name, '--wait=true', '--timeout=90s');
    assert.equal(del.status, 0, del.stderr);
    await until(() => oldPids.every((p) => !agentProcesses().includes(p)), 30000, 'the old agent process gone');
    const fresh = await runningAgent();
    assert.notEqual(fresh.metadata.name, old.metadata.name);
    await until(() => tcFilters(demoVeth) === filters, 60000, `${filters} filters on ${demoVeth} again (now ${tcFilters(demoVeth)})`);
    assert.equal(agentProcesses().length, 1, 'one agent process');
    // the old agent's maps went with it; the new one holds the same entries, not more
    const mapsAfter = podsMaps(agentProcesses());
    assert.equal(mapsAfter.length, 1, `one pods map: ${JSON.stringify(mapsAfter)}`);
    assert.notEqual(mapsAfter[0].id, mapsBefore[0].id, 'a new map, the old one freed');
    assert.equal(mapsAfter[0].entries, mapsBefore[0].entries);
    // and the new agent watches: a read now is reported by it
    const t0 = Date.now();
    assert.equal(execDemo('cat /etc/db/password >/dev/null').status, 0);
    await until(
      async () => (await events('--pod', 'demo/demo', '--kind', 'file')).some((e) => e.path === '/etc/db/password' && Date.parse(e.time) >= t0 - 1000),
      60000,
      'a read reported by the new agent',
    );
  });

  test('a restarted demo container is watched under its new id within 1 s of its start', async () => {
    const agent = (await runningAgent()).metadata.name;
    const oldId = await demoContainerId();
    node.ctr('task', 'kill', '--signal', 'SIGKILL', oldId);
    let newId = '';
    await until(
      async () => {
        newId = await demoContainerId();
        return newId !== '' && newId !== oldId && (await demoPod()).status.containerStatuses[0].state?.running !== undefined;
      },
      60000,
      'the kubelet restarted the demo container',
    );
    const { startedAtMs } = await node.cri.containerStatus(newId);
    assert.ok(startedAtMs, 'CRI reports the start time');
    let watched: Obj | undefined;
    await until(
      () => Boolean((watched = agentLog(agent).find((l) => l.msg === 'watching container' && l.containerId === newId && l.trace === 'demo/secrets'))),
      30000,
      `the agent's "watching container" line for ${newId}`,
    );
    const lagMs = Date.parse(watched!.time) - startedAtMs;
    console.log(`new container ${newId.slice(0, 12)} watched ${lagMs} ms after its start`);
    assert.ok(lagMs <= 1000, `watched ${lagMs} ms after the container started (at most 1000)`);
    const t0 = Date.now();
    assert.equal(execDemo('cat /etc/db/password >/dev/null').status, 0);
    await until(
      async () =>
        (await events('--pod', 'demo/demo', '--kind', 'file')).some((e) => e.path === '/etc/db/password' && e.container?.id === newId && Date.parse(e.time) >= t0 - 1000),
      60000,
      'a read attributed to the new container id',
    );
  });

  test('containerd restarted: the agent keeps running and follows the new containerd', async () => {
    const agent = await runningAgent();
    const pids = agentProcesses();
    await node.restartContainerd();
    assert.deepEqual(agentProcesses(), pids, 'the agent process survived (its shim did)');
    // a container started after the restart is seen through the new connection
    const oldId = await demoContainerId();
    await until(
      () => {
        try {
          node.ctr('task', 'kill', '--signal', 'SIGKILL', oldId);
          return true;
        } catch {
          return false; // containerd not serving yet
        }
      },
      30000,
      'containerd back',
    );
    let newId = '';
    await until(
      async () => {
        newId = await demoContainerId();
        return newId !== oldId && (await demoPod()).status.containerStatuses[0].state?.running !== undefined;
      },
      120000,
      'the kubelet restarted the demo container after the containerd restart',
    );
    await until(
      () => agentLog(agent.metadata.name).some((l) => l.msg === 'watching container' && l.containerId === newId),
      30000,
      `the agent watching ${newId} after the containerd restart`,
    );
    assert.equal((await runningAgent()).metadata.name, agent.metadata.name, 'the same agent pod, not restarted');
  });

  test('deleting a HiveTrace removes its watches and its filters', async () => {
    assert.ok(tcFilters(demoVeth) > 0);
    const e = kubectl('delete', 'ht', '-n', 'demo', 'egress', '--wait=true');
    assert.equal(e.status, 0, e.stderr);
    await until(() => tcFilters(demoVeth) === 0, 30000, `no TC filter left on ${demoVeth} (now ${tcFilters(demoVeth)})`);
    const agent = (await runningAgent()).metadata.name;
    const s = kubectl('delete', 'ht', '-n', 'demo', 'secrets', '--wait=true');
    assert.equal(s.status, 0, s.stderr);
    await until(
      () => agentLog(agent).some((l) => l.msg === 'reconciled' && l.trace === 'demo/secrets' && l.present === false && l.filesWatched === 0),
      30000,
      'the agent reconciled the deleted trace to no watch',
    );
  });

  test('make undeploy leaves no TC filter, pinned object or hive process on the host', async () => {
    // a trace with filters first, so that there is something to leave behind
    const a = kubectl('apply', '-f', 'config/samples/hivetrace-egress.yaml');
    assert.equal(a.status, 0, a.stderr);
    await until(() => tcFilters(demoVeth) > 0, 60000, `filters on ${demoVeth} again`);
    const u = make('undeploy');
    assert.equal(u.status, 0, `make undeploy: ${u.stderr}`);
    await until(async () => (await agentPods()).length === 0, 90000, 'no agent pod');
    await until(() => agentProcesses().length === 0, 30000, 'no agent process');
    for (const dev of bridgePorts()) assert.equal(tcFilters(dev), 0, `TC filters left on ${dev}`);
    assert.deepEqual(bpffsEntries(), bpffsBefore, 'bpffs as before the deploy');
  });
});
