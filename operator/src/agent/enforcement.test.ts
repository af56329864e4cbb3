import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traceEnforcement } from './enforcement';
import type { HiveTrace } from '../kube/hivetrace-schema';

const spec = (s: Partial<HiveTrace['spec']>): HiveTrace['spec'] => ({ paths: ['/etc/secret'], selector: {}, ...s }) as HiveTrace['spec'];
const tracepoint = { mode: 'tracepoint' as const, can: 'kill' as const, enabled: true };

test('an audit trace (or none said) is audited, with nothing in status', () => {
  assert.deepEqual(traceEnforcement(spec({}), tracepoint), {});
  assert.deepEqual(traceEnforcement(spec({ action: 'audit', enforce: false }), tracepoint), {});
});

test('a kill trace on a mode that kills is applied by the kernel', () => {
  assert.deepEqual(traceEnforcement(spec({ action: 'kill' }), tracepoint), { action: 'kill', report: { applied: 'kill', mode: 'tracepoint' } });
  assert.deepEqual(traceEnforcement(spec({ action: 'deny' }), { mode: 'lsm', can: 'deny', enabled: true }).action, 'deny');
});

test('audit first and the kill switch audit with the intent (would-deny), Ready unaffected', () => {
  const first = traceEnforcement(spec({ action: 'kill', enforce: false }), tracepoint);
  assert.deepEqual(first, { intent: 'kill', report: { applied: 'would-deny', mode: 'tracepoint', reason: 'audit first (spec.enforce: false)' } });
  const off = traceEnforcement(spec({ action: 'kill' }), { ...tracepoint, enabled: false });
  assert.equal(off.intent, 'kill');
  assert.equal(off.action, undefined);
  assert.match(off.report!.reason!, /--enforce=false/);
  assert.equal(off.report!.unavailable, undefined);
});

test('a mode that cannot is never a silent audit: would-deny, unavailable, the modes that could named', () => {
  const r = traceEnforcement(spec({ action: 'deny' }), tracepoint);
  assert.equal(r.intent, 'deny');
  assert.equal(r.action, undefined);
  assert.equal(r.report!.unavailable, true);
  assert.match(r.report!.reason!, /^mode tracepoint cannot deny .*modes that can: fentry, lsm$/);
  const k = traceEnforcement(spec({ action: 'kill' }), { mode: 'kprobe', can: null, enabled: true });
  assert.match(k.report!.reason!, /^mode kprobe cannot kill .*modes that can: tracepoint$/);
});

test('a dry run attaches nothing, so it enforces nothing', () => {
  assert.deepEqual(traceEnforcement(spec({ action: 'kill', dryRun: true }), tracepoint), {});
});

test('a node that cannot exempt the host is unavailable for every deny or kill, with its reason', () => {
  const r = traceEnforcement(spec({ action: 'kill' }), { ...tracepoint, problem: "the host's processes cannot be exempted: x" });
  assert.deepEqual(r, { intent: 'kill', report: { applied: 'would-deny', mode: 'tracepoint', reason: "the host's processes cannot be exempted: x", unavailable: true } });
});
