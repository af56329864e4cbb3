// Shared by the tests that load real BPF programs into the running kernel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ModeOption, parseMode } from '../fileaccess/modes';
import { kernelDevFromStat } from '../sys/devnum';
import { rootSkip, skipReason, unitOnly } from './require';

/** Why a kernel test cannot run here, or false when it can (see require.ts). */
export function kernelSkip(): string | false {
  return (
    unitOnly() ||
    rootSkip('(CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN) to load BPF programs') ||
    (fs.existsSync('/sys/kernel/btf/vmlinux') ? false : skipReason('needs kernel BTF (/sys/kernel/btf/vmlinux)'))
  );
}

/** The attach modes under test: HIVE_TEST_MODES (comma-separated; the qemu
 * kernel matrix sets it to every mode), else just auto. */
export function testModes(): ModeOption[] {
  return (process.env.HIVE_TEST_MODES ?? 'auto').split(',').filter(Boolean).map(parseMode);
}

/** The first mode under test, for tests that run one. */
export function testMode(): ModeOption {
  return testModes()[0];
}

/** Waits stretch by HIVE_TEST_TIME_SCALE: kernels under emulation (qemu TCG) are ~10x slower. */
export const TIME_SCALE = Number(process.env.HIVE_TEST_TIME_SCALE ?? 1) || 1;

export function tmpDir(prefix = 'hive-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  timeoutMs *= TIME_SCALE;
  let end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 10));
    // A stall of this process's own event loop (another suite loading BPF
    // synchronously, seconds under emulation) is no time the code under test
    // had: after it, timers run before pending I/O (an inotify read) is
    // delivered, so without this the wait would end before it looked again.
    const stalled = Date.now() - t0 - 10;
    if (stalled > 100) end += stalled;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A quiet period long enough for late events to arrive, before asserting "exactly". */
export const settle = () => sleep(150 * TIME_SCALE);

/** Runs a command to completion; resolves with its pid, exit code and stdout. */
export function run(cmd: string, args: string[]): Promise<{ pid: number; code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ pid: child.pid ?? -1, code, stdout }));
  });
}

/** A file's (inode, kernel device): the key it has in the watch map. */
export function inodeOf(p: string): { ino: bigint; dev: number } {
  const st = fs.statSync(p, { bigint: true });
  return { ino: st.ino, dev: kernelDevFromStat(st.dev) };
}
