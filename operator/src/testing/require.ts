// Why a suite cannot run here. Suites that need something a machine may lack
// (root, kernel BTF, containerd, Go, iproute2, shellcheck) skip with the
// reason: right on a laptop, wrong in CI, where a skipped suite would let the
// run go green without testing anything. Under HIVE_TEST_REQUIRE=all (set by
// .ci/run) every such reason is thrown instead, so the test file fails and
// prints it. Every skip for a missing requirement goes through skipReason().
//
// HIVE_TEST_UNIT_ONLY (make test-unit) is not a missing requirement but a
// request for units only, so unitOnly() skips even under the switch; .ci/run
// unsets it. A test that is not applicable on this kernel (a test of refusing
// an unsupported mode, on a kernel that supports them all) is not missing
// anything either and skips on its own.
import { execFileSync } from 'node:child_process';

export const REQUIRE_ENV = 'HIVE_TEST_REQUIRE';

/** Thrown under HIVE_TEST_REQUIRE=all where a suite would have skipped. */
export class MissingRequirement extends Error {
  constructor(readonly reason: string) {
    super(`${REQUIRE_ENV}=all: ${reason}`);
    this.name = 'MissingRequirement';
  }
}

/** True when a missing requirement must fail the run (HIVE_TEST_REQUIRE=all). */
export function requireAll(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[REQUIRE_ENV];
  if (v === undefined || v === '') return false;
  if (v === 'all') return true;
  throw new Error(`${REQUIRE_ENV}='${v}': allowed: all, or unset`);
}

// A misspelt value must not quietly mean "skip as usual": checked on import.
requireAll();

/** The reason to skip with; under HIVE_TEST_REQUIRE=all, a MissingRequirement thrown. */
export function skipReason(reason: string): string {
  if (requireAll()) throw new MissingRequirement(reason);
  return reason;
}

/** The deliberate units-only run (make test-unit): skips under the switch too. */
export function unitOnly(): string | false {
  return process.env.HIVE_TEST_UNIT_ONLY ? 'HIVE_TEST_UNIT_ONLY is set (make test-unit)' : false;
}

/** Root, or the reason `what` needs it. */
export function rootSkip(what: string): string | false {
  return process.getuid?.() === 0 ? false : skipReason(`needs root ${what}`);
}

/** The first of `bins` not on the PATH, as a skip reason (`hint` says how to get it), or false. */
export function commandSkip(bins: string[], hint: string): string | false {
  for (const bin of bins) {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', bin], { stdio: 'ignore' });
    } catch {
      return skipReason(`needs ${bin} (${hint})`);
    }
  }
  return false;
}
