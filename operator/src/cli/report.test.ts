// The report's rows and table from HiveTrace objects (pure; the API side is in inventory.e2e.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inventoryRows, renderTable } from './report';

const entry = (exe: string, lastSeen: string, count: number) => ({ pod: 'web', container: 'app', exe, path: '/etc/secret', access: 'read' as const, count, firstSeen: '2026-12-02T10:00:00.000Z', lastSeen, uid: 0 });

test('rows across nodes and traces, the most recently seen first; omitted counted per node', () => {
  const traces = [
    {
      metadata: { namespace: 'prod', name: 'secrets' },
      status: {
        nodes: [
          { node: 'n1', inventory: { entries: [entry('/bin/cat', '2026-12-02T10:00:05.123Z', 3)], omitted: 0 } },
          { node: 'n2', inventory: { entries: [entry('/bin/sh', '2026-12-02T10:00:09.000Z', 500)], omitted: 2 } },
          { node: 'n3' },
        ],
      },
    },
    { metadata: { namespace: 'prod', name: 'shadow' }, status: { nodes: [{ node: 'n1', inventory: { entries: [entry('head', '2026-12-02T10:00:07.000Z', 2)], omitted: 0 } }] } },
    { metadata: { namespace: 'dev', name: 'none' } },
  ];
  const { rows, omitted } = inventoryRows(traces);
  assert.deepEqual(rows.map((r) => [r.trace, r.node, r.exe]), [
    ['prod/secrets', 'n2', '/bin/sh'],
    ['prod/shadow', 'n1', 'head'],
    ['prod/secrets', 'n1', '/bin/cat'],
  ]);
  assert.deepEqual(omitted, [{ trace: 'prod/secrets', node: 'n2', omitted: 2 }]);
  const table = renderTable(rows, omitted).split('\n');
  assert.match(table[0], /^TRACE +NODE +POD +CONTAINER +EXE +PATH +ACCESS +COUNT +LAST SEEN +UID$/);
  assert.match(table[1], /^prod\/secrets +n2 +web +app +\/bin\/sh +\/etc\/secret +read +500 +2026-12-02T10:00:09Z +0$/);
  assert.equal(table[4], '(2 less recently seen entries of prod/secrets on n2 not in its status)');
  // one trace: no TRACE column
  const one = renderTable(rows.filter((r) => r.trace === 'prod/shadow'), []);
  assert.match(one, /^NODE +POD/);
});

test('a name with a newline or an escape sequence stays in its row, escaped (SECURITY-REVIEW L1)', () => {
  const e = { ...entry('/bin/\u001b[2Kcat', '2026-12-02T10:00:05.123Z', 1), path: '/etc/a\nforged row' };
  const table = renderTable(inventoryRows([{ metadata: { namespace: 'prod', name: 's' }, status: { nodes: [{ node: 'n1', inventory: { entries: [e], omitted: 0 } }] } }]).rows, []);
  assert.equal(table.split('\n').length, 3, JSON.stringify(table));
  assert.doesNotMatch(table, /\u001b/);
  assert.match(table.split('\n')[1], /^n1 +web +app +\/bin\/\\x1b\[2Kcat +\/etc\/a\\x0aforged row +read +1 /);
});

test('BY names who accessed when some row is not the pod itself (the node, another pod)', () => {
  const rows = inventoryRows([{ metadata: { namespace: 'prod', name: 's' }, status: { nodes: [{ node: 'n1', inventory: { entries: [entry('/usr/bin/kubelet', '2026-12-02T10:00:05.000Z', 2), { ...entry('/usr/bin/kubelet', '2026-12-02T10:00:04.000Z', 1), accessor: 'host' }], omitted: 0 } }] } }]).rows;
  const lines = renderTable(rows, []).split('\n');
  assert.match(lines[0], /^NODE +POD +CONTAINER +BY +EXE /);
  assert.match(lines[1], /^n1 +web +app +pod +\/usr\/bin\/kubelet /);
  assert.match(lines[2], /^n1 +web +app +host +\/usr\/bin\/kubelet /);
  assert.doesNotMatch(renderTable(rows.slice(0, 1), []), /BY/, 'no column when every row is the pod itself');
});
