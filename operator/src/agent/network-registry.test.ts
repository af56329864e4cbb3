import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkRegistry, NetSelection } from './network-registry';
import { NET_FLAG } from '../netmon/layout';
import { parseIp } from '../netmon/addr';

// A recording pod table: the registry's only dependency (the kernel map is
// exercised by the netns suite and the agent e2e test).
function table() {
  const calls: string[] = [];
  const pods = new Map<string, { watchId: number; flags: number }>();
  return {
    calls,
    pods,
    setPod(addr: Buffer, watchId: number, flags: number) {
      calls.push(`set ${addr.toString('hex').slice(-8)} ${watchId} ${flags}`);
      pods.set(addr.toString('hex'), { watchId, flags });
    },
    removePod(addr: Buffer) {
      calls.push(`del ${addr.toString('hex').slice(-8)}`);
      return pods.delete(addr.toString('hex'));
    },
  };
}

const sel = (trace: string, ip: string, flags: number): NetSelection => ({
  ip,
  addr: parseIp(ip),
  pod: { namespace: 'ns', name: `pod-${ip}`, uid: ip },
  trace: { namespace: 'ns', name: trace },
  flags,
});

test('two traces on one pod: one kernel entry with the union of flags, events for both, removal exact', () => {
  const t = table();
  const lists: number[] = [];
  const r = new NetworkRegistry(t, (a) => lists.push(a.length));
  r.set('ns/a', [sel('a', '10.0.0.5', NET_FLAG.monitor)]);
  r.set('ns/b', [sel('b', '10.0.0.5', NET_FLAG.monitor | NET_FLAG.blockExternal), sel('b', '10.0.0.6', NET_FLAG.monitor)]);
  assert.deepEqual(t.calls, ['set 0a000005 1 1', 'set 0a000005 1 3', 'set 0a000006 2 1']);
  assert.deepEqual(r.owners(parseIp('10.0.0.5')).map((o) => o.trace.name), ['a', 'b']);
  assert.deepEqual(lists, [1, 2], 'the tracker hears of address changes only');
  t.calls.length = 0;
  r.set('ns/b', []);
  assert.deepEqual(t.calls, ['del 0a000006', 'set 0a000005 1 1'], 'b gone: its pod removed, the shared one back to monitor only');
  assert.deepEqual(r.owners(parseIp('10.0.0.5')).map((o) => o.trace.name), ['a']);
  r.set('ns/a', []);
  assert.equal(t.pods.size, 0);
  assert.equal(r.addresses, 0);
});

test('hold: flags on one pod beside its traces, released exactly; only selected addresses reach the kernel', () => {
  const t = table();
  const r = new NetworkRegistry(t, () => undefined);
  r.set('ns/a', [sel('a', '10.0.0.5', NET_FLAG.monitor), sel('a', '10.0.0.6', NET_FLAG.monitor)]);
  t.calls.length = 0;
  r.hold('10.0.0.5', 'ns/a', NET_FLAG.blockExternal); // sel() uses the ip as the pod uid
  assert.deepEqual(t.calls, ['set 0a000005 1 3'], 'that pod only');
  r.hold('10.0.0.5', 'ns/b', NET_FLAG.blockExternal);
  r.hold('10.0.0.5', 'ns/a', 0);
  assert.equal(t.pods.get(parseIp('10.0.0.5').toString('hex'))?.flags, 3, 'still held by ns/b');
  r.hold('10.0.0.5', 'ns/b', 0);
  assert.equal(t.pods.get(parseIp('10.0.0.5').toString('hex'))?.flags, 1, 'back to monitor');
  r.hold('10.0.0.9', 'ns/a', NET_FLAG.blockExternal);
  assert.equal(t.pods.size, 2, 'a held pod no trace selects is not put in the kernel');
  r.set('ns/a', [sel('a', '10.0.0.5', NET_FLAG.monitor), sel('a', '10.0.0.6', NET_FLAG.monitor), sel('a', '10.0.0.9', NET_FLAG.monitor)]);
  assert.equal(t.pods.get(parseIp('10.0.0.9').toString('hex'))?.flags, 3, 'the hold applies once it is selected');
});
