import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clock } from './clock';

test('toIso gives what Date.toISOString gives, across seconds and milliseconds', () => {
  const c = new Clock();
  const c2 = c as unknown as { wallMs: number; monoNs: number };
  for (const offsetNs of [0, 1e6, 9e6, 99e6, 999e6, 1000e6, 1001.5e6, 61_234e6, -3_500e6, 86_400_007e6]) {
    const want = new Date(c2.wallMs + offsetNs / 1e6).toISOString();
    assert.equal(c.toIso(c2.monoNs + offsetNs), want, `offset ${offsetNs} ns`);
  }
});
