import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clock } from './clock';

test('toIso gives what Date.toISOString gives, across seconds and milliseconds', () => {
  const c = new Clock();
  const c2 = c as unknown as { wall0: number; mono0: number };
  for (const offsetNs of [0, 1e6, 9e6, 99e6, 999e6, 1000e6, 1001.5e6, 61_234e6, -3_500e6, 86_400_007e6]) {
    const want = new Date(c2.wall0 + offsetNs / 1e6).toISOString();
    assert.equal(c.toIso(c2.mono0 + offsetNs), want, `offset ${offsetNs} ns`);
  }
});

test('wallMs and isoOfMs compose to toIso', () => {
  const c = new Clock();
  const mono = Number(process.hrtime.bigint());
  for (const d of [0, 5e5, 1.5e9, 3600e9]) assert.equal(c.isoOfMs(c.wallMs(mono + d)), c.toIso(mono + d));
});

test('isoOfMs remembers only the last millisecond: repeats, and going back, give the right text', () => {
  const c = new Clock();
  const base = Date.UTC(2026, 11, 3, 23, 59, 59, 998);
  for (const ms of [base, base, base + 1, base + 2, base + 2, base, base + 1000, base]) assert.equal(c.isoOfMs(ms), new Date(ms).toISOString(), `ms ${ms}`);
});
