// The evasion table's rows (docs/evasion.md), each performed on the running
// kernel in every mode of HIVE_TEST_MODES (the qemu matrix: kprobe, fentry,
// lsm, tracepoint on 5.10, 6.1 and 6.12; this host: tracepoint). A row is
// either caught (the access gives its event) or documented as not seen in a
// mode, and then asserted not seen, so that the table cannot drift from what
// the kernel does. Every syscall is made by perl's syscall(), by number
// (x86_64), so that libc's choice of call cannot hide one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { FileAccessMonitor } from './monitor';
import { ACCESS, ACCESS_ALL, RawFileEvent } from './layout';
import { inodeOf, kernelSkip, settle, testModes, tmpDir, waitFor } from '../testing/kernel';
import { ModeOption } from './modes';

const skip = kernelSkip() || (process.arch !== 'x64' ? 'the rows call syscalls by their x86_64 numbers' : false);

/** Runs perl -e `script` with `args`; resolves with its pid, status and stderr. */
function perl(script: string, args: string[]): Promise<{ pid: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('perl', ['-e', script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ pid: child.pid ?? -1, code, stderr }));
  });
}

/** How a row fares in a mode: `caught` with these access bits, or `unseen` (no event). */
type Outcome = { caught: number } | 'unseen';

interface Row {
  name: string;
  /** perl: $ARGV[0] is the watched file, $ARGV[1] its directory. Dies (non-zero) when the call fails. */
  script: string;
  /** What each mode sees (the inode_permission modes alike: kprobe, fentry, lsm). */
  inode: Outcome;
  tracepoint: Outcome;
  /** Runs before the watch exists (a descriptor opened before it, say): the script prints a line once it is ready, then waits for one on fd 3. */
  before?: boolean;
}

const O_PATH = 0o10000000;
export const ROWS: Row[] = [
  { name: 'open(2)', script: 'my $p = $ARGV[0]; syscall(2, $p, 0) >= 0 or die "open: $!"', inode: { caught: ACCESS.read }, tracepoint: { caught: ACCESS.read } },
  { name: 'openat(2)', script: 'my $p = $ARGV[0]; syscall(257, -100, $p, 0) >= 0 or die "openat: $!"', inode: { caught: ACCESS.read }, tracepoint: { caught: ACCESS.read } },
  {
    name: 'openat2(2)',
    script: 'my $p = $ARGV[0]; my $how = pack("QQQ", 0, 0, 0); syscall(437, -100, $p, $how, 24) >= 0 or die "openat2: $!"',
    inode: { caught: ACCESS.read },
    tracepoint: { caught: ACCESS.read },
  },
  {
    name: 'creat(2) (a write that truncates)',
    script: 'my $p = $ARGV[0]; syscall(85, $p, 0644) >= 0 or die "creat: $!"',
    inode: { caught: ACCESS.write },
    tracepoint: { caught: ACCESS.write },
  },
  {
    name: 'open_by_handle_at(2) (a handle taken by name_to_handle_at, no path at the open)',
    script:
      'my ($p, $d) = @ARGV; my $h = pack("LlA128", 128, 0, "\\0" x 128); my $mid = pack("l", 0); ' +
      'syscall(303, -100, $p, $h, $mid, 0) == 0 or die "name_to_handle_at: $!"; sysopen(my $m, $d, 0) or die "dir: $!"; ' +
      'syscall(304, fileno($m), $h, 0) >= 0 or die "open_by_handle_at: $!"',
    inode: { caught: ACCESS.read },
    tracepoint: { caught: ACCESS.read },
  },
  {
    name: 're-open through /proc/self/fd of an O_PATH descriptor',
    script: `my $p = $ARGV[0]; sysopen(my $o, $p, ${O_PATH}) or die "O_PATH: $!"; open(my $r, "<", "/proc/self/fd/" . fileno($o)) or die "reopen: $!"`,
    inode: { caught: ACCESS.read },
    tracepoint: { caught: ACCESS.read },
  },
  {
    name: 'an O_PATH descriptor alone (opens nothing to read or write)',
    script: `my $p = $ARGV[0]; sysopen(my $o, $p, ${O_PATH}) or die "O_PATH: $!"`,
    inode: 'unseen',
    tracepoint: 'unseen',
  },
  {
    name: 'truncate(2) by path',
    script: 'my $p = $ARGV[0]; syscall(76, $p, 0) == 0 or die "truncate: $!"',
    inode: { caught: ACCESS.write },
    tracepoint: 'unseen',
  },
  {
    name: 'access(2) (a permission check, reported as the access it asks about)',
    script: 'my $p = $ARGV[0]; syscall(21, $p, 4) == 0 or die "access: $!"',
    inode: { caught: ACCESS.read },
    tracepoint: 'unseen',
  },
  {
    name: 'read(2) of an opened descriptor: the open is the access (reads, mmap and sendfile of it pass no check)',
    script: 'my $p = $ARGV[0]; open(my $f, "<", $p) or die "open: $!"; my $b; sysread($f, $b, 1) for 1 .. 3',
    inode: { caught: ACCESS.read },
    tracepoint: { caught: ACCESS.read },
  },
  {
    name: 'reads through a descriptor opened before the watch existed',
    script: 'my $p = $ARGV[0]; open(my $f, "<", $p) or die "open: $!"; $| = 1; print "opened\\n"; open(my $go, "<&=3") or die "fd 3: $!"; my $l = <$go>; my $b; sysread($f, $b, 4) == 4 or die "read: $!"',
    inode: 'unseen',
    tracepoint: 'unseen',
    before: true,
  },
];

describe('the evasion table in the running kernel', { skip, concurrency: true }, () => {
  for (const mode of testModes()) describe(`mode ${mode}`, { concurrency: 1 }, () => suite(mode));
});

function suite(mode: ModeOption) {
  let monitor: FileAccessMonitor;
  let dir: string;
  const events: RawFileEvent[] = [];
  let nextId = 1;
  before(() => {
    dir = tmpDir('hive-evasion-');
    monitor = FileAccessMonitor.open({ mode }).monitor;
    monitor.onEvents((batch) => events.push(...batch), 20);
  });
  after(() => {
    monitor?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const row of ROWS) {
    test(row.name, async () => {
      const f = path.join(dir, `f${nextId}`);
      fs.writeFileSync(f, 'data\n');
      const watchId = nextId++;
      const outcome = monitor.mode === 'tracepoint' ? row.tracepoint : row.inode;
      let ran: { pid: number; code: number | null; stderr: string };
      if (row.before) {
        // the descriptor first (the script says when it has it), the watch after; then the script reads
        const child = spawn('perl', ['-e', row.script, f, dir], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
        let stderr = '';
        let stdout = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
        const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
        await waitFor(() => stdout.includes('opened\n') || child.exitCode !== null, 10_000, 'the descriptor opened before the watch');
        monitor.watch([{ ...inodeOf(f), watchId, access: ACCESS_ALL }]);
        (child.stdio[3] as NodeJS.WritableStream).end('go\n');
        ran = { pid: child.pid ?? -1, code: await closed, stderr };
      } else {
        monitor.watch([{ ...inodeOf(f), watchId, access: ACCESS_ALL }]);
        ran = await perl(row.script, [f, dir]);
      }
      assert.equal(ran.code, 0, `the row's calls succeed: ${ran.stderr}`);
      const mine = () => events.filter((e) => e.watchId === watchId && e.tgid === ran.pid);
      if (outcome === 'unseen') {
        await settle();
        assert.deepEqual(mine().map((e) => e.access), [], `mode ${monitor.mode}: not seen, as the table says`);
      } else {
        await waitFor(() => mine().length > 0, 3000, `mode ${monitor.mode}: an event of the row`);
        await settle();
        const bits = mine().reduce((a, e) => a | e.access, 0);
        assert.equal(bits & outcome.caught, outcome.caught, `mode ${monitor.mode}: caught as ${outcome.caught} (got ${bits})`);
      }
      monitor.unwatch([inodeOf(f)]);
    });
  }
}
