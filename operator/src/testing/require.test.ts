// HIVE_TEST_REQUIRE=all turns a skip for a missing requirement into a failed
// run: a tiny test file whose suite needs a command that does not exist is run
// with node's test runner under each setting of the switches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { MissingRequirement, requireAll, skipReason } from './require';

const MISSING = 'hive-test-no-such-command';

function runSuite(env: Record<string, string>): { code: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-require-'));
  try {
    const file = path.join(dir, 'needs.test.js');
    fs.writeFileSync(
      file,
      `const { test } = require('node:test');
const { commandSkip, unitOnly } = require(${JSON.stringify(path.join(__dirname, 'require.js'))});
test('needs a command', { skip: unitOnly() || commandSkip([${JSON.stringify(MISSING)}], 'not installable') }, () => {});
test('needs nothing', () => {});
`,
    );
    const base = { ...process.env };
    delete base.HIVE_TEST_REQUIRE;
    delete base.HIVE_TEST_UNIT_ONLY;
    delete base.NODE_TEST_CONTEXT; // else the child reports to this runner instead of running
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], { env: { ...base, ...env }, encoding: 'utf8' });
    return { code: r.status, out: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('without the switch a missing command skips the suite with its reason, and the run passes', () => {
  const r = runSuite({});
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`# SKIP needs ${MISSING} \\(not installable\\)`));
  assert.match(r.out, /^# skipped 1$/m);
  assert.match(r.out, /^# pass 1$/m);
});

test('under HIVE_TEST_REQUIRE=all the same skip fails the run, naming what is missing', () => {
  const r = runSuite({ HIVE_TEST_REQUIRE: 'all' });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`HIVE_TEST_REQUIRE=all: needs ${MISSING} \\(not installable\\)`));
  assert.doesNotMatch(r.out, /^# skipped [1-9]/m);
});

test('HIVE_TEST_UNIT_ONLY is a request, not a missing requirement: it still skips under the switch', () => {
  const r = runSuite({ HIVE_TEST_REQUIRE: 'all', HIVE_TEST_UNIT_ONLY: '1' });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /# SKIP HIVE_TEST_UNIT_ONLY is set/);
});

test('a bad HIVE_TEST_REQUIRE value is refused, naming what is allowed', () => {
  assert.throws(() => requireAll({ HIVE_TEST_REQUIRE: 'yes' }), { message: "HIVE_TEST_REQUIRE='yes': allowed: all, or unset" });
  assert.equal(requireAll({ HIVE_TEST_REQUIRE: 'all' }), true);
  assert.equal(requireAll({}), false);
  const r = runSuite({ HIVE_TEST_REQUIRE: 'yes' });
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /HIVE_TEST_REQUIRE='yes': allowed: all, or unset/);
});

test('skipReason returns the reason, or throws it as a MissingRequirement under the switch', () => {
  const saved = process.env.HIVE_TEST_REQUIRE;
  try {
    delete process.env.HIVE_TEST_REQUIRE;
    assert.equal(skipReason('needs a thing'), 'needs a thing');
    process.env.HIVE_TEST_REQUIRE = 'all';
    assert.throws(() => skipReason('needs a thing'), (e) => e instanceof MissingRequirement && e.reason === 'needs a thing');
  } finally {
    if (saved === undefined) delete process.env.HIVE_TEST_REQUIRE;
    else process.env.HIVE_TEST_REQUIRE = saved;
  }
});
