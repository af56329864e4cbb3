import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enforcementProblem, modesFor } from './action';

test('deny is lsm and fentry, kill is tracepoint; a mode that cannot says which can', () => {
  assert.deepEqual(modesFor('deny'), ['fentry', 'lsm']);
  assert.deepEqual(modesFor('kill'), ['tracepoint']);
  assert.equal(enforcementProblem('lsm', 'deny'), null);
  assert.equal(enforcementProblem('tracepoint', 'kill'), null);
  assert.match(enforcementProblem('kprobe', 'deny')!, /^mode kprobe cannot deny .*; modes that can: fentry, lsm$/);
  assert.match(enforcementProblem('tracepoint', 'deny')!, /after the open succeeded .*; modes that can: fentry, lsm$/);
  assert.match(enforcementProblem('lsm', 'kill')!, /^mode lsm cannot kill .*; modes that can: tracepoint$/);
});
