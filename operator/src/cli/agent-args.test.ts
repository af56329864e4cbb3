import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentArgs } from './args';

const env = { NODE_NAME: 'n1' };

test('hive agent: --cri-socket or HIVE_CRI_SOCKET; status and resync intervals in seconds with defaults', () => {
  const d = parseAgentArgs([], env);
  assert.equal(d.criSocket, undefined);
  assert.equal(d.statusIntervalMs, 60_000);
  assert.equal(d.resyncIntervalMs, 30_000);
  assert.equal(parseAgentArgs([], { ...env, HIVE_CRI_SOCKET: '/run/crio/crio.sock' }).criSocket, '/run/crio/crio.sock');
  const o = parseAgentArgs(['--cri-socket', '/x.sock', '--status-interval', '5', '--resync-interval', '600'], { ...env, HIVE_CRI_SOCKET: '/y.sock' });
  assert.deepEqual([o.criSocket, o.statusIntervalMs, o.resyncIntervalMs], ['/x.sock', 5000, 600_000]);
});

test('hive agent: --aggregate-interval in milliseconds, the monitor default 1000, 0 turns folding off', () => {
  assert.equal(parseAgentArgs([], env).aggregateMs, 1000);
  assert.equal(parseAgentArgs(['--aggregate-interval', '0'], env).aggregateMs, 0);
  assert.throws(() => parseAgentArgs(['--aggregate-interval', '60001'], env), /--aggregate-interval must be from 0 to 60000, got 60001/);
});

test('hive agent: a bad interval names the option and what is allowed', () => {
  assert.throws(() => parseAgentArgs(['--status-interval', '0'], env), /--status-interval must be from 1 to 86400, got 0/);
  assert.throws(() => parseAgentArgs(['--resync-interval', '1m'], env), /--resync-interval must be a whole number from 1 to 86400, got '1m'/);
});

test('hive agent: --enforce (or HIVE_ENFORCE) true by default, false is the kill switch; host processes exempt unless --allow-host-enforcement', () => {
  const d = parseAgentArgs([], env);
  assert.deepEqual([d.enforce, d.allowHostEnforcement, d.exemptExes], [true, false, []]);
  assert.equal(parseAgentArgs(['--enforce=false'], env).enforce, false);
  assert.equal(parseAgentArgs([], { ...env, HIVE_ENFORCE: 'false' }).enforce, false);
  assert.equal(parseAgentArgs(['--enforce', 'true'], { ...env, HIVE_ENFORCE: 'false' }).enforce, true);
  assert.equal(parseAgentArgs(['--allow-host-enforcement'], env).allowHostEnforcement, true);
  assert.throws(() => parseAgentArgs(['--enforce', 'off'], env), /--enforce must be one of true, false, got 'off'|--enforce.*true.*false.*off/);
});

test('hive agent: --exempt-exe takes absolute host paths, repeated or comma-separated', () => {
  assert.deepEqual(parseAgentArgs(['--exempt-exe', '/opt/a,/opt/b', '--exempt-exe', '/usr/bin/c'], env).exemptExes, ['/opt/a', '/opt/b', '/usr/bin/c']);
  assert.deepEqual(parseAgentArgs([], { ...env, HIVE_EXEMPT_EXE: '/opt/x' }).exemptExes, ['/opt/x']);
  assert.throws(() => parseAgentArgs(['--exempt-exe', 'kubelet'], env), /--exempt-exe \(env HIVE_EXEMPT_EXE\) takes absolute host paths, got 'kubelet'/);
});
