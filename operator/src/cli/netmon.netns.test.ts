// `hive netmon` end to end, as a user runs it: the real CLI on this kernel,
// traffic between network namespaces (testing/netns.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { kernelSkip, waitFor, settle } from '../testing/kernel';
import { Topology, netnsSkip, tc, TCP_CLIENT } from '../testing/netns';
import { assertOneLineError, hive, ready, startHive } from '../testing/cli';

const skip = kernelSkip() || netnsSkip();
let topo: Topology;

before(async () => {
  if (skip) return;
  topo = new Topology(`hc${process.pid % 100000}`);
  await topo.podAndPeers({ pod: '10.202.1', cluster: '10.202.3', external: '198.18.6' }, 80);
});

after(() => topo?.destroy());

test('hive netmon prints one JSON flow event per connection and a summary; SIGTERM cleans up', { skip }, async () => {
  const r = startHive(['netmon', '--pod-ip', '10.202.1.2', '--cluster-cidr', '10.202.0.0/16']);
  try {
    const line = await ready(r);
    assert.deepEqual(line.interfaces, [topo.host('a').hostVeth]);
    assert.deepEqual(line.clusterCidrs, ['10.202.0.0/16']);
    const c = await topo.run('a', TCP_CLIENT('198.18.6.2', 80));
    assert.equal(c.code, 0);
    const client = JSON.parse(c.stdout);
    await waitFor(() => r.stdout.length >= 2, 3000, 'two event lines');
    await settle();
    const evs = r.stdout.map((l) => JSON.parse(l));
    assert.deepEqual(evs.map((e) => e.event), ['new', 'summary']);
    assert.deepEqual(evs[0].src, { ip: '10.202.1.2', port: client.port });
    assert.deepEqual(evs[0].dst, { ip: '198.18.6.2', port: 80 });
    for (const k of ['time', 'node', 'kind', 'pod', 'src', 'dst', 'proto', 'verdict', 'scope', 'process', 'packets', 'bytes']) {
      assert.ok(k in evs[0], `field ${k}`);
    }
    assert.equal(evs[0].kind, 'network');
    assert.equal(evs[0].process.pid, client.pid);
    // the connecting process's lineage: the node binary, started by ip netns exec from this test's process
    assert.equal(evs[0].process.exe, fs.realpathSync(process.execPath));
    assert.equal(evs[0].process.ancestors[0].pid, process.pid);
    assert.deepEqual(evs[1].process, evs[0].process, 'the summary names the same process');
  } finally {
    r.child.kill('SIGTERM');
  }
  assert.equal(await r.exited, 0);
  assert.doesNotMatch(tc('qdisc', 'show', 'dev', topo.host('a').hostVeth), /clsact/, 'nothing left on the veth');
});

test('hive netmon --block-external: the pod cannot reach outside, the cluster still answers', { skip }, async () => {
  const r = startHive(['netmon', '--pod-ip', '10.202.1.2', '--cluster-cidr', '10.202.0.0/16', '--block-external']);
  try {
    await ready(r);
    const ext = await topo.run('a', TCP_CLIENT('198.18.6.2', 80, 1000));
    assert.equal(ext.code, 3);
    const cl = await topo.run('a', TCP_CLIENT('10.202.3.2', 80));
    assert.equal(cl.code, 0);
    await waitFor(() => r.stdout.some((l) => JSON.parse(l).verdict === 'blocked'), 3000, 'a blocked event');
  } finally {
    r.child.kill('SIGTERM');
  }
  assert.equal(await r.exited, 0);
  const blocked = r.stdout.map((l) => JSON.parse(l)).filter((e) => e.verdict === 'blocked');
  assert.equal(blocked[0].dst.ip, '198.18.6.2');
  assert.equal(blocked[0].scope, 'external');
});

test('hive netmon: bad input is one line and exit 2', { skip: kernelSkip() }, async () => {
  assertOneLineError(await hive(['netmon']), /^hive netmon: no --pod-ip given; usage: hive netmon --pod-ip IP/);
  assertOneLineError(await hive(['netmon', '--pod-ip', 'web-1']), /^hive netmon: invalid --pod-ip 'web-1': expected an IPv4 or IPv6 address/);
  assertOneLineError(
    await hive(['netmon', '--pod-ip', '10.0.0.1', '--cluster-cidr', '10.0.0.0/99']),
    /^hive netmon: invalid --cluster-cidr '10.0.0.0\/99': expected an address\/prefix/,
  );
  assertOneLineError(await hive(['netmon', '--pod-ip', '10.0.0.1'], { noCaps: true }), /CAP_BPF|capabilit/i);
});
