// Runs the real `hive` CLI as a child process, as a user would, for tests.
import assert from 'node:assert/strict';
import path from 'node:path';
import readline from 'node:readline';
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { waitFor } from './kernel';

const MAIN = path.resolve(__dirname, '../cli/hive.js');

export interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: string[];
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

export function startTrace(args: string[]): Running {
  return startHive(['trace', ...args]);
}

/** Starts a long-running hive command (trace, netmon, ...). */
export function startHive(args: string[]): Running {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: 'pipe' });
  const r: Running = { child, stdout: [], logs: [], exited: new Promise((res) => child.on('close', res)) };
  readline.createInterface({ input: child.stdout }).on('line', (l) => r.stdout.push(l));
  readline.createInterface({ input: child.stderr }).on('line', (l) => {
    try {
      r.logs.push(JSON.parse(l));
    } catch {
      r.logs.push({ raw: l });
    }
  });
  return r;
}

export async function ready(r: Running): Promise<Record<string, unknown>> {
  await waitFor(() => r.logs.some((l) => l.msg === 'ready') || r.child.exitCode !== null, 15000, "the 'ready' log line");
  const line = r.logs.find((l) => l.msg === 'ready');
  assert.ok(line, `hive did not get ready: ${JSON.stringify(r.logs)}`);
  return line;
}

/** Runs hive to completion; returns exit code and stderr. */
export function hive(
  args: string[],
  // noCaps: run it as root with every capability dropped (setpriv), as an
  // unprivileged user would be, without depending on who can read the checkout
  opts: { noCaps?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const argv = [process.execPath, MAIN, ...args];
    const [cmd, ...rest] = opts.noCaps ? ['setpriv', '--bounding-set=-all', '--inh-caps=-all', ...argv] : argv;
    const child = spawn(cmd, rest, { stdio: 'pipe', env: opts.env });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

export function assertOneLineError(res: { code: number | null; stderr: string }, re: RegExp) {
  assert.equal(res.code, 2, `exit code (stderr: ${res.stderr})`);
  const lines = res.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${res.stderr}`);
  assert.match(lines[0], re);
  assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
}

