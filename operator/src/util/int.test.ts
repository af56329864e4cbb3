import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkInt, parseInt10 } from './int';
import { HiveError, UsageError } from './errors';

test('parseInt10 takes decimal digits within the range only', () => {
  assert.equal(parseInt10('--n', '42', 0, 100), 42);
  assert.equal(parseInt10('--n', '007', 0, 100), 7);
  assert.equal(parseInt10('--n', '0', 0, 100), 0);
  for (const bad of ['', ' 1', '1 ', '-1', '+1', '0x10', '1e2', '1.0', 'ten']) {
    assert.throws(() => parseInt10('--n', bad, 0, 100), { message: `--n must be a whole number from 0 to 100, got '${bad}'` }, JSON.stringify(bad));
  }
  assert.throws(() => parseInt10('--n', '101', 0, 100), { message: '--n must be from 0 to 100, got 101' });
  assert.throws(() => parseInt10('--n', '99999999999999999999999', 0, 100), /--n must be from 0 to 100, got 1e\+23/);
});

test('checkInt refuses fractions, NaN and out-of-range numbers; the error class is the caller\'s', () => {
  assert.equal(checkInt('max flows', 16, 16, 32), 16);
  assert.throws(() => checkInt('max flows', 1.5, 16, 32), (e: unknown) => e instanceof HiveError && /whole number from 16 to 32, got 1.5/.test(e.message));
  assert.throws(() => checkInt('max flows', NaN, 16, 32), /got NaN/);
  assert.throws(() => checkInt('max flows', 33, 16, 32), /max flows must be from 16 to 32, got 33/);
  assert.throws(
    () => checkInt('--x', 0, 1, 2, (m) => new UsageError(m)),
    (e: unknown) => e instanceof UsageError && e.exitCode === 2,
  );
});
