// The deploy path against the real test API server (test/cluster): what
// `kubectl kustomize config/` renders, `make deploy`/`make undeploy` with an
// image reference (no kubelet here, so the rollout wait is off), the samples,
// and `hive logs` up to where a kubelet would be needed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { TestCluster, clusterSkip } from '../testing/cluster';
import { assertOneLineError, hive } from '../testing/cli';

const ROOT = path.resolve(__dirname, '../../..');
const KUBECTL = path.join(ROOT, 'test/cluster/kubectl.sh');
const IMAGE = 'localhost:5001/hive-agent:0123abc';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

describe('the deploy path on a real API server', { skip: clusterSkip() }, () => {
  let cluster: TestCluster;
  const kubectl = (...args: string[]) =>
    spawnSync('bash', [KUBECTL, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
  const make = (...args: string[]) =>
    spawnSync('make', ['-s', ...args, `KUBECTL=${KUBECTL}`], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
  const docs = (yaml: string): Obj[] => parseAllDocuments(yaml).map((d) => d.toJS() as Obj);

  before(() => {
    cluster = TestCluster.start();
  });
  after(() => cluster?.stop());

  test('kubectl kustomize config/ renders the agent the way it must run', () => {
    const r = kubectl('kustomize', 'config/');
    assert.equal(r.status, 0, r.stderr);
    const objs = docs(r.stdout);
    assert.deepEqual(
      objs.map((o) => o.kind).sort(),
      [
        'ClusterRole', // the agent's
        'ClusterRole', // hive-trace-editor
        'ClusterRole', // hive-trace-enforcer
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'DaemonSet',
        'Namespace',
        'ServiceAccount',
        'ValidatingAdmissionPolicy', // who may deny (config/policy)
        'ValidatingAdmissionPolicyBinding',
      ],
    );
    const ds = objs.find((o) => o.kind === 'DaemonSet')!;
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostPID, true, 'pids of other containers: /host/proc/<pid>/root');
    assert.equal(pod.hostNetwork, true, 'the pods’ host-side veths and the routing table');
    const c = pod.containers[0];
    assert.equal(c.name, 'agent');
    assert.equal(c.securityContext.privileged, true);
    assert.deepEqual(c.args, ['agent']);
    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
    const hostPaths = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v.hostPath.path]));
    const mounts = Object.fromEntries(c.volumeMounts.map((m: Obj) => [m.name, { at: m.mountPath, ro: m.readOnly === true }]));
    assert.deepEqual(hostPaths, {
      'host-proc': '/proc',
      'containerd-run': '/run/containerd',
      bpffs: '/sys/fs/bpf',
      btf: '/sys/kernel/btf',
      tracefs: '/sys/kernel/tracing',
    });
    assert.deepEqual(mounts['host-proc'], { at: '/host/proc', ro: true });
    assert.deepEqual(mounts.btf, { at: '/sys/kernel/btf', ro: true });
    // the socket's directory: a restarted containerd's new socket shows through it
    assert.deepEqual(mounts['containerd-run'], { at: '/run/containerd', ro: true });
    assert.equal(env.CONTAINERD_ADDRESS, '/run/containerd/containerd.sock');
    assert.equal(env.NODE_NAME, 'spec.nodeName');
    assert.equal(ds.metadata.labels['app.kubernetes.io/name'], 'hive', 'kubectl logs -l app.kubernetes.io/name=hive finds it');
  });

  test('the image reference of make docker-build goes into the rendered DaemonSet; server-side dry-run accepts it all', () => {
    const o = make('deploy-overlay', `IMAGE=${IMAGE}`);
    assert.equal(o.status, 0, o.stderr);
    const r = kubectl('kustomize', 'build/deploy');
    assert.equal(r.status, 0, r.stderr);
    const ds = docs(r.stdout).find((x) => x.kind === 'DaemonSet')!;
    assert.equal(ds.spec.template.spec.containers[0].image, IMAGE);
    // namespaced objects need their namespace to exist for a dry-run
    assert.equal(kubectl('create', 'namespace', 'hive-system').status, 0);
    const dry = kubectl('apply', '--server-side', '--dry-run=server', '-k', 'build/deploy');
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /daemonset\.apps\/hive-agent serverside-applied \(server dry run\)/);
    const noImage = spawnSync('make', ['-s', 'deploy', 'IMAGE='], { cwd: ROOT, encoding: 'utf8' });
    assert.notEqual(noImage.status, 0);
    assert.match(noImage.stderr, /make deploy: no image: run 'make docker-build' first/);
    // a registry port is not a tag
    const noTag = spawnSync('make', ['-s', 'deploy-overlay', 'IMAGE=localhost:5001/hive-agent'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(noTag.status, 2);
    assert.match(noTag.stderr, /make deploy: IMAGE 'localhost:5001\/hive-agent' has no tag; give name:tag/);
    // API_SERVER: the agents reach the API server there, not through the kubernetes Service
    const api = make('deploy-overlay', `IMAGE=${IMAGE}`, 'API_SERVER=10.0.0.5:6443');
    assert.equal(api.status, 0, api.stderr);
    const apiDs = docs(kubectl('kustomize', 'build/deploy').stdout).find((x) => x.kind === 'DaemonSet')!;
    const apiEnv = Object.fromEntries(apiDs.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
    assert.equal(apiEnv.KUBERNETES_SERVICE_HOST, '10.0.0.5');
    assert.equal(apiEnv.KUBERNETES_SERVICE_PORT, '6443');
    const badApi = spawnSync('make', ['-s', 'deploy-overlay', `IMAGE=${IMAGE}`, 'API_SERVER=10.0.0.5'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(badApi.status, 2);
    assert.match(badApi.stderr, /make deploy: API_SERVER '10\.0\.0\.5' is not host:port/);
    assert.equal(make('deploy-overlay', `IMAGE=${IMAGE}`).status, 0, 'and without it, no patch');
  });

  test('make deploy applies config/ with that image; make undeploy removes it', () => {
    const d = make('deploy', `IMAGE=${IMAGE}`, 'DEPLOY_WAIT=0');
    assert.equal(d.status, 0, d.stderr);
    assert.match(d.stdout, /kubectl logs -n hive-system -l app\.kubernetes\.io\/name=hive -f/);
    const ds = JSON.parse(kubectl('get', '-n', 'hive-system', 'daemonset', 'hive-agent', '-o', 'json').stdout);
    assert.equal(ds.spec.template.spec.containers[0].image, IMAGE);
    assert.equal(kubectl('get', 'crd', 'hivetraces.hive.io').status, 0);
    // the samples apply on top (the demo namespace first, for the dry-run of its objects)
    assert.equal(kubectl('create', 'namespace', 'demo').status, 0);
    const s = kubectl('apply', '--server-side', '--dry-run=server', '-f', 'config/samples/');
    assert.equal(s.status, 0, s.stderr);
    for (const what of ['pod/demo', 'secret/db-credentials', 'hivetrace.hive.io/secrets', 'hivetrace.hive.io/egress', 'hivetrace.hive.io/exfil', 'hivetrace.hive.io/shadow']) {
      assert.match(s.stdout, new RegExp(`${what.replace('.', '\\.')} serverside-applied`), what);
    }
    // no namespace controller here: hive-system would stay Terminating, so no waiting
    const u = make('undeploy', `IMAGE=${IMAGE}`, 'UNDEPLOY_WAIT=false');
    assert.equal(u.status, 0, u.stderr);
    assert.notEqual(kubectl('get', '-n', 'hive-system', 'daemonset', 'hive-agent').status, 0, 'gone');
  });

  test('hive logs finds the agent pods through the API; without a kubelet it says whose logs it cannot read', async () => {
    execFileSync('bash', [KUBECTL, 'create', 'namespace', 'hive-logs'], { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
    const env = { ...process.env, KUBECONFIG: cluster.kubeconfig };
    assertOneLineError(
      { ...(await hive(['logs', '-n', 'hive-logs'], { env })), code: 2 },
      /^hive logs: no agent pods with label app\.kubernetes\.io\/name=hive in namespace hive-logs \(deploy with 'make deploy'\)$/,
    );
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hive-agent-x1', namespace: 'hive-logs', labels: { 'app.kubernetes.io/name': 'hive' } },
      spec: { nodeName: 'node-9', containers: [{ name: 'agent', image: IMAGE }] },
    };
    const r = await cluster.request('POST', '/api/v1/namespaces/hive-logs/pods', pod);
    assert.equal(r.status, 201, JSON.stringify(r.body.message));
    const res = await hive(['logs', '-n', 'hive-logs', '--kind', 'file'], { env });
    assert.equal(res.code, 1);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], /^hive logs: cannot read the logs of hive-logs\/hive-agent-x1: /);
    assertOneLineError(await hive(['logs', '--kind', 'dns'], { env }), /^hive logs: --kind must be one of file, network, alert, got 'dns'$/);
    assertOneLineError(await hive(['logs', '--pod', 'Bad_Name'], { env }), /^hive logs: --pod must be NAME or NAMESPACE\/NAME/);
  });
});
