// The real node of testing/node.ts: a kubelet started on this machine's
// containerd registers, turns Ready with a podCIDR from the controller-manager,
// runs the demo pod (scheduled by the real scheduler) with a CNI veth and its
// projected ServiceAccount token, serves `kubectl logs` and `exec` to the API
// server, and leaves no veth behind when the pod goes or the node stops.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { RealNode, nodeSkip, until, CLUSTER_CIDR } from '../testing/node';

const ROOT = path.resolve(__dirname, '../../..');
const KUBECTL = path.join(ROOT, 'test/cluster/kubectl.sh');

/** Interfaces enslaved to the node's bridge (the pods' host-side veths). */
function bridgePorts(): string[] {
  try {
    return (JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', 'cni0']).toString()) as { ifname: string }[]).map((l) => l.ifname);
  } catch {
    return []; // no bridge
  }
}

describe('a real node: kubelet, containerd, CNI', { skip: nodeSkip() }, () => {
  let node: RealNode;
  const kubectl = (...args: string[]) =>
    spawnSync('bash', [KUBECTL, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, KUBECONFIG: node.cluster.kubeconfig } });

  before(async () => {
    node = await RealNode.up({ log: (m) => console.log(`node: ${m}`) });
  });
  after(async () => {
    if (!node) return;
    kubectl('delete', '--ignore-not-found', '--wait=true', '--timeout=60s', '-f', 'config/samples/demo-pod.yaml');
    if (node.started) {
      await node.down();
      if (node.startedCluster) node.cluster.stop();
    } else {
      node.cri.close();
    }
  });

  test('the node registers with the kubelet version and a podCIDR from the controller-manager', async () => {
    const n = await node.node();
    assert.equal(n.status.nodeInfo.kubeletVersion, 'v1.34.4');
    assert.match(n.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
    assert.match(n.spec.podCIDR, /^10\.244\.\d+\.0\/24$/, `a /24 of ${CLUSTER_CIDR}`);
    assert.ok(
      n.status.addresses.some((a: { type: string; address: string }) => a.type === 'InternalIP' && a.address === node.ip),
      JSON.stringify(n.status.addresses),
    );
  });

  test('the demo pod runs with a CNI veth, its token, logs and exec through the API server', async () => {
    const before = bridgePorts();
    const r = kubectl('apply', '-f', 'config/samples/demo-pod.yaml');
    assert.equal(r.status, 0, r.stderr);
    let pod: Record<string, any> = {}; // eslint-disable-line @typescript-eslint/no-explicit-any
    await until(
      async () => {
        const g = await node.cluster.request('GET', '/api/v1/namespaces/demo/pods/demo');
        pod = g.body;
        return g.status === 200 && pod.status?.phase === 'Running';
      },
      90000,
      'demo pod Running',
    );
    assert.equal(pod.spec.nodeName, node.name, 'bound by the scheduler to this node');
    const cidr = (await node.podCIDR())!;
    assert.equal(pod.status.podIP.split('.').slice(0, 3).join('.'), cidr.split('.').slice(0, 3).join('.'), `pod IP ${pod.status.podIP} in ${cidr}`);
    const added = bridgePorts().filter((p) => !before.includes(p));
    assert.equal(added.length, 1, `one new veth on cni0: ${added.join(',')}`);
    assert.ok(
      pod.spec.volumes.some((v: { name: string; projected?: unknown }) => v.name.startsWith('kube-api-access-') && v.projected),
      'the ServiceAccount admission plugin added the projected token volume',
    );
    const tok = kubectl('exec', '-n', 'demo', 'demo', '-c', 'app', '--', 'cat', '/var/run/secrets/kubernetes.io/serviceaccount/token');
    assert.equal(tok.status, 0, tok.stderr);
    assert.match(tok.stdout, /^ey[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT issued through TokenRequest');
    const pw = kubectl('exec', '-n', 'demo', 'demo', '--', 'cat', '/etc/db/password');
    assert.equal(pw.stdout, 'not-a-real-password');
    // No resolver in this topology: the demo's fetch fails and says so in its log.
    await until(() => /external fetch failed/.test(kubectl('logs', '-n', 'demo', 'demo').stdout), 30000, 'the demo pod’s log line');

    const d = kubectl('delete', '-n', 'demo', 'pod', 'demo', '--wait=true', '--timeout=60s');
    assert.equal(d.status, 0, d.stderr);
    await until(() => !bridgePorts().includes(added[0]), 30000, `veth ${added[0]} removed with the pod`);
  });
});
