import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterCidrs } from './cluster-cidrs';
import { parseCidr } from '../netmon/addr';

test("configured ranges plus nodes' pod CIDRs and addresses, once each; bad ones skipped and named", () => {
  const { cidrs, skipped } = clusterCidrs(
    [parseCidr('10.96.0.0/12')],
    [
      { metadata: { name: 'n1' }, spec: { podCIDRs: ['10.244.1.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.10' }, { type: 'Hostname', address: 'n1' }] } },
      { metadata: { name: 'n2' }, spec: { podCIDR: '10.244.2.0/24' }, status: { addresses: [{ type: 'ExternalIP', address: 'nonsense' }] } },
      { metadata: { name: 'n3' }, spec: { podCIDRs: ['10.244.1.0/24'] } },
    ],
  );
  assert.deepEqual(cidrs.map((c) => c.text), ['10.96.0.0/12', '10.244.1.0/24', '192.168.1.10/32', '10.244.2.0/24']);
  assert.equal(skipped.length, 1);
  assert.equal(skipped[0].node, 'n2');
  assert.match(skipped[0].err, /nonsense/);
});
