import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesSelector } from './selector';

test('label selectors: matchLabels and every operator', () => {
  const l = { app: 'web', tier: 'front' };
  assert.equal(matchesSelector({}, l), true);
  assert.equal(matchesSelector({ matchLabels: { app: 'web' } }, l), true);
  assert.equal(matchesSelector({ matchLabels: { app: 'db' } }, l), false);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, l), true);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, l), false);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['front'] }] }, l), true);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, l), true);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, l), false);
  assert.equal(matchesSelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'x', operator: 'Exists' }] }, l), false);
});
