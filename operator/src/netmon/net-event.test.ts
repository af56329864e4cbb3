import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLOW, FLOW_FLAG, FLOW_KEY, NET_EVENT, decodeNetBatch } from './layout';
import { parseIp } from './addr';
import { prettyNetLine, toNetRecord } from './net-event';
import { Clock } from '../output/clock';
import { ProcessTable } from '../bpf/process-table';
import { PROC_RECORD } from '../bpf/proc-record';
import { frame, procBuffer } from '../testing/proc-records';

function sample(initiator: number): Buffer {
  const b = Buffer.alloc(NET_EVENT.size);
  const e = NET_EVENT.fields;
  const k = e.key.offset;
  const f = e.flow.offset;
  b.writeBigUInt64LE(5_000_000_000n, e.ts_ns.offset);
  b.writeUInt8(3, e.type.offset);
  b.writeUInt8(2, e.reason.offset);
  b.writeUInt32LE(7, e.ifindex.offset);
  parseIp('10.0.1.2').copy(b, k + FLOW_KEY.fields.pod_addr.offset);
  parseIp('2001:db8::9').copy(b, k + FLOW_KEY.fields.peer_addr.offset);
  b.writeUInt16LE(40000, k + FLOW_KEY.fields.pod_port.offset);
  b.writeUInt16LE(443, k + FLOW_KEY.fields.peer_port.offset);
  b.writeUInt8(6, k + FLOW_KEY.fields.proto.offset);
  const F = FLOW.fields;
  b.writeBigUInt64LE(1_000_000_000n, f + F.first_ns.offset);
  b.writeBigUInt64LE(3_500_000_000n, f + F.last_ns.offset);
  b.writeBigUInt64LE(4n, f + F.tx_packets.offset);
  b.writeBigUInt64LE(400n, f + F.tx_bytes.offset);
  b.writeBigUInt64LE(3n, f + F.rx_packets.offset);
  b.writeBigUInt64LE(3000n, f + F.rx_bytes.offset);
  b.writeBigUInt64LE(2n, f + F.blocked.offset);
  b.writeBigUInt64LE(BigInt(FLOW_FLAG.hasProcess | FLOW_FLAG.ended), f + F.flags.offset);
  b.writeUInt32LE(9, f + F.watch_id.offset);
  b.writeUInt32LE(1234, f + F.pid.offset);
  b.writeUInt32LE(1230, f + F.tgid.offset);
  b.writeUInt32LE(1000, f + F.uid.offset);
  b.writeUInt8(initiator, f + F.initiator.offset);
  b.writeUInt8(2, f + F.scope.offset);
  b.writeUInt8(2, f + F.verdict.offset);
  b.write('curl', f + F.comm.offset, 'latin1');
  return b;
}

test('decodes a network event into DESIGN.md fields, src being the side that opened the flow', () => {
  const { events, malformed } = decodeNetBatch(frame(sample(1), Buffer.alloc(12), sample(2)));
  assert.equal(malformed, 1);
  assert.equal(events.length, 2);
  const clock = new Clock();
  const out = toNetRecord(events[0], { pod: { namespace: 'ns', name: 'web', uid: 'u1' }, trace: { namespace: 'ns', name: 't' } }, clock, 'veth1', 'node-1');
  assert.deepEqual({ ...out, time: undefined }, {
    time: undefined,
    node: 'node-1',
    kind: 'network',
    event: 'summary',
    reason: 'closed',
    trace: { namespace: 'ns', name: 't' },
    pod: { namespace: 'ns', name: 'web', uid: 'u1', ip: '10.0.1.2' },
    src: { ip: '10.0.1.2', port: 40000 },
    dst: { ip: '2001:db8::9', port: 443 },
    proto: 'tcp',
    verdict: 'blocked',
    scope: 'external',
    direction: 'egress',
    process: { pid: 1234, tgid: 1230, uid: 1000, comm: 'curl' },
    packets: 7,
    bytes: 3400,
    tx: { packets: 4, bytes: 400 },
    rx: { packets: 3, bytes: 3000 },
    blocked: 2,
    interface: 'veth1',
    duration_ms: 2500,
  });
  const inbound = toNetRecord(events[1], undefined, clock);
  assert.deepEqual([inbound.src, inbound.dst, inbound.direction], [{ ip: '2001:db8::9', port: 443 }, { ip: '10.0.1.2', port: 40000 }, 'ingress']);
  assert.match(prettyNetLine(out), / END\(closed\) +tcp 10\.0\.1\.2:40000 -> \[2001:db8::9\]:443 external blocked pkts=7 bytes=3400 blocked=2 by curl\[1230\] uid=1000 pod=ns\/web$/);
});

test("a flow's process gets exe and ancestors from the process records before it in the ring; none before them", () => {
  const sh = procBuffer(['dash', 'bin', 'usr'], 0, { tgid: 1229, ppid: 1, nsPid: 1, start: 100n, comm: 'sh' });
  const curl = procBuffer(['curl', 'bin', 'usr'], 0, { tgid: 1230, ppid: 1229, nsPid: 2, start: 200n, parentStart: 100n, comm: 'curl' });
  const table = new ProcessTable();
  // the first event precedes the records: no lineage; the next (same tgid) has it
  const { events, malformed } = decodeNetBatch(frame(sample(1), sh, curl, sample(1), sample(2)), table);
  assert.equal(malformed, 0);
  assert.equal(table.size, 2);
  assert.deepEqual(events[0].flow.process, { pid: 1234, tgid: 1230, uid: 1000, comm: 'curl' });
  const want = { pid: 1234, tgid: 1230, uid: 1000, comm: 'curl', exe: '/usr/bin/curl', ancestors: [{ pid: 1229, comm: 'sh', exe: '/usr/bin/dash' }] };
  assert.deepEqual(events[1].flow.process, want);
  const rec = toNetRecord(events[1], { pod: { namespace: 'ns', name: 'web', uid: 'u1' } }, new Clock(), 'veth1', 'node-1');
  assert.deepEqual(rec.process, want);
  assert.match(prettyNetLine(rec), / by curl\[1230\] ← sh exe=\/usr\/bin\/curl uid=1000 pod=ns\/web$/);
  // a flow with no process (inbound here, flags without hasProcess) gets none
  const noProc = sample(2);
  noProc.writeBigUInt64LE(0n, NET_EVENT.fields.flow.offset + FLOW.fields.flags.offset);
  assert.equal(decodeNetBatch(frame(noProc), table).events[0].flow.process, undefined);
  // without a table, process records are skipped, not malformed
  assert.deepEqual(decodeNetBatch(frame(curl)), { events: [], malformed: 0 });
  // a length that is neither record is malformed
  assert.equal(decodeNetBatch(frame(Buffer.alloc(PROC_RECORD.size - 8)), table).malformed, 1);
});
