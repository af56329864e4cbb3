import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentMetrics } from './metrics';

const series = async (m: AgentMetrics, name: string) => (await m.registry.metrics()).split('\n').filter((l) => l.startsWith(`${name}{`));

test("a deleted pod's flow and blocked-packet series are released; other pods' stay", async () => {
  const m = new AgentMetrics();
  for (let i = 0; i < 50; i++) {
    const pod = `p-${i}`;
    m.flows.inc({ namespace: 'a', pod, scope: 'external', verdict: 'allowed' });
    m.flows.inc({ namespace: 'a', pod, scope: 'cluster', verdict: 'allowed' });
    m.flows.inc({ namespace: 'a', pod, scope: 'external', verdict: 'blocked' });
    m.blockedPackets.inc({ namespace: 'a', pod }, 3);
  }
  m.flows.inc({ namespace: 'b', pod: 'p-0', scope: 'external', verdict: 'allowed' });
  assert.equal((await series(m, 'hive_network_flows_total')).length, 151);
  for (let i = 0; i < 50; i++) m.releasePod('a', `p-${i}`);
  assert.deepEqual(await series(m, 'hive_network_flows_total'), ['hive_network_flows_total{namespace="b",pod="p-0",scope="external",verdict="allowed"} 1']);
  assert.deepEqual(await series(m, 'hive_network_blocked_packets_total'), []);
});

test("a deleted trace's series are released", async () => {
  const m = new AgentMetrics();
  for (const trace of ['a/x', 'a/y']) {
    m.events.inc({ trace, access: 'read', verdict: 'allowed' });
    m.events.inc({ trace, access: 'read', verdict: 'killed' });
    m.events.inc({ trace, access: 'exec', verdict: 'would-deny' });
    m.reconciles.inc({ trace, cause: 'spec' });
    m.reconciles.inc({ trace, cause: 'pod' });
    m.reconcileErrors.inc({ trace });
    m.statusWrites.inc({ trace });
  }
  m.releaseTrace('a/x');
  const text = await m.registry.metrics();
  assert.doesNotMatch(text, /trace="a\/x"/);
  assert.equal(text.match(/trace="a\/y"/g)?.length, 7);
});

test('the kernel counters of storms are gauges read when scraped', async () => {
  const m = new AgentMetrics();
  let lost = 0;
  m.collectFrom(() => ({ watchedInodes: 3, dropped: 2, emitted: 10, lost, aggregated: 999, aggFull: 1, pipelineErrors: 3 }));
  lost = 4999;
  const text = await m.registry.metrics();
  assert.match(text, /^hive_events_lost_accesses 4999$/m);
  assert.match(text, /^hive_events_aggregated 999$/m);
  assert.match(text, /^hive_events_aggregate_full 1$/m);
  assert.match(text, /^hive_events_dropped 2$/m);
  assert.match(text, /^hive_pipeline_errors 3$/m);
});
