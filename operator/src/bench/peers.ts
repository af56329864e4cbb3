// make bench, peers: what else a user could run on the hook-overhead loop
// (open+close of 16 unwatched files, 10,000 watched inodes), in the same run
// and rotating rounds: no hook; hive; a bpftrace one-liner doing the same
// inode filter on syscalls:sys_exit_openat; auditd with 64 `auditctl -w`
// watches. Each is printed as a ratio to no hook. A peer that cannot run here
// is reported with the reason seen, not skipped silently.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { ACCESS_ALL } from '../fileaccess/layout';
import type { Mode } from '../fileaccess/modes';
import { kernelDevFromStat } from '../sys/devnum';
import { Logger } from '../util/log';
import { processMaps } from '../testing/bpf-maps';

type Row = Record<string, string | number>;

const ROUNDS = 21;
const ITERATIONS = 100_000;
const WATCHED = 10_000;
const AUDIT_WATCHES = 64;
/** Our audit rules carry this key, so that only they are deleted (auditctl -D -k). */
const AUDIT_KEY = `hive-bench-peers-${process.pid}`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Watched {
  path: string;
  ino: bigint;
  dev: number;
}

/** One arm of the rounds: set up, run the loop, tear down. */
interface Arm {
  name: string;
  run(loop: () => number): Promise<number>;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function firstLine(s: string | Buffer | undefined): string {
  return (s ?? '').toString().split('\n').find((l) => l.trim() && !/RLIMIT_MEMLOCK/.test(l))?.trim() ?? '';
}

// ---------------------------------------------------------------- bpftrace

/**
 * The one-liner a user would write: the fd sys_exit_openat returned, its
 * struct file from the task's fd table, and (inode, device) looked up in a
 * hash map — the same key hive's map has. bpftrace 0.17 cannot index an
 * array with a variable, hence the pointer arithmetic. The map is filled
 * after start with `bpftool batch` (10,000 assignments in BEGIN take bpftrace
 * minutes to compile: 2 min and not done, measured).
 */
export const BPFTRACE_PROGRAM =
  'BEGIN { @w[(uint64)0, (uint32)0] = 0; printf("ready\\n"); } ' +
  'tracepoint:syscalls:sys_exit_openat /args->ret >= 0/ { ' +
  '$i = ((struct file *)*((uint64 *)curtask->files->fdt->fd + args->ret))->f_inode; ' +
  'if (@w[$i->i_ino, $i->i_sb->s_dev]) { printf("%d %s %d\\n", pid, comm, $i->i_ino); } } ' +
  'END { clear(@w); }';
const BPFTRACE_MAP_ENTRIES = 16_384;

/** The map of a running bpftrace with the (u64 ino, u32 dev) key, from its fds. */
function bpftraceMapId(pid: number): number | undefined {
  return processMaps(pid).find((m) => m.keySize === 16 && m.maxEntries === BPFTRACE_MAP_ENTRIES)?.id;
}

const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

class Bpftrace {
  private proc?: ChildProcess;
  private out = '';
  private err = '';

  constructor(private readonly watched: Watched[], private readonly dir: string) {}

  async start(): Promise<void> {
    const proc = spawn('bpftrace', ['-B', 'line', '-e', BPFTRACE_PROGRAM], {
      env: { ...process.env, BPFTRACE_MAP_KEYS_MAX: String(BPFTRACE_MAP_ENTRIES) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.out = '';
    this.err = '';
    proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    await this.until(() => this.out.includes('ready'), 60_000, 'bpftrace did not start');
    const mapId = bpftraceMapId(proc.pid!);
    if (mapId === undefined) throw new Error('bpftrace: no (inode, device) map among its fds');
    const cmds = this.watched.map((w) => {
      const key = Buffer.alloc(16);
      key.writeBigUInt64LE(w.ino, 0);
      key.writeUInt32LE(w.dev, 8);
      return `map update id ${mapId} key hex ${hex(key)} value hex 01 00 00 00 00 00 00 00`;
    });
    const batch = path.join(this.dir, 'bpftrace-map.batch');
    fs.writeFileSync(batch, cmds.join('\n') + '\n');
    execFileSync('bpftool', ['batch', 'file', batch], { stdio: ['ignore', 'ignore', 'pipe'] });
    // The peer must be doing its job before it is timed: a watched file's
    // open shows up in its output once the tracepoint is attached.
    const probe = this.watched[this.watched.length - 1];
    await this.until(
      () => {
        fs.closeSync(fs.openSync(probe.path, 'r'));
        return this.out.includes(` ${probe.ino}\n`);
      },
      30_000,
      `bpftrace did not report the open of a watched file (${probe.path})`,
    );
  }

  private async until(cond: () => boolean, ms: number, what: string) {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (this.proc?.exitCode !== null || this.proc?.signalCode) throw new Error(`${what}: exited: ${firstLine(this.err)}`);
      if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms: ${firstLine(this.err)}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGINT');
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** For exit paths that cannot wait. */
  killNow() {
    this.proc?.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- audit

interface AuditStatus {
  enabled: number;
  pid: number;
}

function auditctl(...args: string[]) {
  const r = spawnSync('auditctl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`auditctl ${args.join(' ')}: ${firstLine(r.stderr) || `exit ${r.status}`}`);
  return r.stdout;
}

function auditStatus(): AuditStatus {
  const out = auditctl('-s');
  const field = (k: string) => Number(new RegExp(`^${k} (\\d+)`, 'm').exec(out)?.[1]);
  return { enabled: field('enabled'), pid: field('pid') };
}

/**
 * auditd and 64 file watches. If no auditd runs, one of our own runs with a
 * private configuration (its log in our temporary directory) and is stopped
 * at the end; the kernel's enabled flag is restored to what it was; only our
 * rules (by key) are deleted. Audit is enabled only while its arms run.
 */
class Audit {
  private daemon?: ChildProcess;
  private initial?: AuditStatus;
  private taskNever = false;
  readonly log: string;

  constructor(private readonly watched: Watched[], private readonly dir: string) {
    this.log = path.join(dir, 'audit.log');
  }

  async start(): Promise<void> {
    this.initial = auditStatus();
    if (this.initial.enabled === 2) throw new Error('audit configuration is locked (enabled 2): rules cannot be added');
    if (this.initial.pid === 0) {
      const confDir = path.join(this.dir, 'auditd');
      fs.mkdirSync(confDir);
      const stock = fs.existsSync('/etc/audit/auditd.conf') ? fs.readFileSync('/etc/audit/auditd.conf', 'utf8') : '';
      const conf = stock.replace(/^\s*log_file\s*=.*$/m, '').replace(/^\s*priority_boost\s*=.*$/m, '');
      fs.writeFileSync(path.join(confDir, 'auditd.conf'), `${conf}\nlog_file = ${this.log}\npriority_boost = 0\n`, { mode: 0o640 });
      // -n: stay in the foreground (we stop it by its pid); -s nochange: the
      // arms switch the enabled flag themselves.
      const d = spawn('auditd', ['-n', '-s', 'nochange', '-c', confDir], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.daemon = d;
      let err = '';
      d.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const deadline = Date.now() + 10_000;
      while (auditStatus().pid !== d.pid) {
        if (d.exitCode !== null) throw new Error(`auditd exited with ${d.exitCode}: ${firstLine(err)}`);
        if (Date.now() > deadline) throw new Error(`auditd did not register with the kernel within 10 s: ${firstLine(err)}`);
        await sleep(50);
      }
    }
    // Check that a watch reports before timing it (with our own auditd we own its log).
    this.addRules(1);
    try {
      if (this.daemon) {
        const probe = this.watched[0];
        const deadline = Date.now() + 10_000;
        for (;;) {
          // from a child: a task forked before audit was first enabled on this boot (this
          // process, on a fresh boot) has no audit context and is never audited; the loop's
          // processes are forked after, as this one is
          execFileSync('cat', [probe.path], { stdio: 'ignore' });
          await sleep(100);
          if (fs.existsSync(this.log) && fs.readFileSync(this.log, 'utf8').includes(`key="${AUDIT_KEY}"`)) break;
          if (Date.now() > deadline) throw new Error(`auditd logged no record for a watched file (${probe.path}) within 10 s`);
        }
      }
    } finally {
      this.removeRules();
    }
  }

  /** Rules for the first n watched files, enabled. */
  addRules(n: number) {
    const rules = path.join(this.dir, 'audit.rules');
    fs.writeFileSync(rules, this.watched.slice(0, n).map((w) => `-w ${w.path} -p rwxa -k ${AUDIT_KEY}\n`).join(''));
    auditctl('-R', rules);
    auditctl('-e', '1');
    const listed = auditctl('-l', '-k', AUDIT_KEY).split('\n').filter((l) => l.startsWith('-w ')).length;
    if (listed !== n) throw new Error(`auditctl lists ${listed} of our ${n} watch rules`);
  }

  /**
   * `-a task,never`: tasks forked from now on get no audit context, so their
   * syscalls skip audit's entry/exit work. Once audit has been enabled on a
   * boot (audit_ever_enabled, which never goes back), every new task carries
   * that work even with audit disabled again; this rule takes it off.
   */
  addTaskNever() {
    // A task rule takes no key: it is ours to delete only if we added it.
    if (/^-a never,task\s*$/m.test(auditctl('-l'))) return;
    auditctl('-a', 'task,never');
    this.taskNever = true;
  }

  removeRules() {
    auditctl('-D', '-k', AUDIT_KEY);
    if (this.taskNever) {
      auditctl('-d', 'task,never');
      this.taskNever = false;
    }
    if (this.initial && this.initial.enabled !== 1) auditctl('-e', String(this.initial.enabled));
  }

  async stop(): Promise<void> {
    this.removeRules();
    const d = this.daemon;
    this.daemon = undefined;
    if (d && d.exitCode === null && !d.signalCode) {
      const exited = new Promise((r) => d.once('exit', r));
      d.kill('SIGTERM');
      const timer = setTimeout(() => d.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    // auditd may change the flag on its way out: put back what we found
    if (this.initial && auditStatus().enabled !== this.initial.enabled) auditctl('-e', String(this.initial.enabled));
  }

  killNow() {
    try {
      this.removeRules();
    } catch {
      /* best effort on an exit path */
    }
    this.daemon?.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- rounds

/** Programs of other users attached to syscall paths at the start: they slow every arm alike. */
function othersOnSyscalls(): string {
  try {
    const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { type: string; name?: string }[];
    const names = progs.filter((p) => ['tracing', 'raw_tracepoint', 'tracepoint'].includes(p.type)).map((p) => p.name ?? '?');
    return names.length ? [...new Set(names)].join(', ') : 'none';
  } catch (e) {
    return `unknown (bpftool: ${firstLine(String(e))})`;
  }
}

export async function peersOverhead(log: Logger): Promise<Row[]> {
  const repoRoot = path.resolve(__dirname, '../../..');
  const bin = path.join(repoRoot, 'build/openloop');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-bench-peers-'));
  const unavailable: Row[] = [];
  const cleanups: (() => void)[] = [];
  const onExit = () => cleanups.forEach((c) => c());
  process.once('exit', onExit);
  try {
    const unwatched = Array.from({ length: 16 }, (_, i) => path.join(dir, `u${i}`));
    for (const f of unwatched) fs.writeFileSync(f, '');
    fs.mkdirSync(path.join(dir, 'w'));
    const watched: Watched[] = Array.from({ length: WATCHED }, (_, i) => {
      const f = path.join(dir, 'w', `w${i}`);
      fs.writeFileSync(f, '');
      const st = fs.statSync(f, { bigint: true });
      return { path: f, ino: st.ino, dev: kernelDevFromStat(st.dev) };
    });
    const entries = watched.map((w, i) => ({ ino: w.ino, dev: w.dev, watchId: i + 1, access: ACCESS_ALL }));
    const cpu = String(os.cpus().length - 1);
    const loop = () => Number(execFileSync('taskset', ['-c', cpu, bin, String(ITERATIONS), ...unwatched]).toString().trim());
    loop(); // warm caches

    const hive = (mode: Mode | 'auto', name: string): Arm => ({
      name,
      async run(l) {
        const { monitor } = FileAccessMonitor.open({ mode, log });
        try {
          monitor.watch(entries);
          monitor.onEvents(() => {});
          return l();
        } finally {
          monitor.close();
        }
      },
    });
    const probe = FileAccessMonitor.open({ mode: 'auto', log }).monitor;
    const autoMode = probe.mode;
    probe.close();
    const arms: Arm[] = [{ name: 'no hook', run: async (l) => l() }, hive('auto', `hive (${autoMode} mode)`)];
    if (autoMode !== 'tracepoint') arms.push(hive('tracepoint', 'hive (tracepoint mode)'));

    if (!have('bpftrace')) unavailable.push({ peer: 'bpftrace', reason: 'bpftrace not installed (make deps installs it)' });
    else {
      const bt = new Bpftrace(watched, dir);
      cleanups.push(() => bt.killNow());
      try {
        await bt.start(); // a trial start: a peer that cannot run here is reported, not timed
        await bt.stop();
        arms.push({
          name: `bpftrace one-liner, ${WATCHED.toLocaleString('en')} inodes`,
          async run(l) {
            await bt.start();
            try {
              return l();
            } finally {
              await bt.stop();
            }
          },
        });
      } catch (e) {
        await bt.stop();
        unavailable.push({ peer: 'bpftrace', reason: (e as Error).message });
      }
    }

    let audit: Audit | undefined;
    if (!have('auditctl') || !have('auditd')) unavailable.push({ peer: 'auditd', reason: 'auditd/auditctl not installed (make deps installs them)' });
    else {
      const a = new Audit(watched, dir);
      cleanups.push(() => a.killNow());
      try {
        await a.start();
        audit = a;
        const auditArm = (name: string, n: number): Arm => ({
          name,
          async run(l) {
            a.addRules(n);
            try {
              return l();
            } finally {
              a.removeRules();
            }
          },
        });
        arms.push(auditArm(`auditd, ${AUDIT_WATCHES} auditctl -w watches`, AUDIT_WATCHES), auditArm('auditd, audit enabled, no rules', 0), {
          name: "no hook, audit's syscall work off (auditctl -a task,never)",
          async run(l) {
            a.addTaskNever();
            try {
              return l();
            } finally {
              a.removeRules();
            }
          },
        });
      } catch (e) {
        await a.stop().catch(() => a.killNow());
        unavailable.push({ peer: 'auditd', reason: (e as Error).message.split('\n')[0] });
      }
    }

    const othersAtStart = othersOnSyscalls();
    const ns = new Map<string, number[]>(arms.map((a) => [a.name, []]));
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < arms.length; k++) {
          const arm = arms[(round + k) % arms.length];
          ns.get(arm.name)!.push(await arm.run(loop));
        }
      }
    } finally {
      await audit?.stop();
    }
    const base = ns.get('no hook')!;
    const b = median(base);
    const bMin = Math.min(...base);
    const rows: Row[] = arms.map((a) => {
      const xs = ns.get(a.name)!;
      return {
        arm: a.name,
        'ns/op (median)': median(xs),
        'ratio to no hook (medians)': +(median(xs) / b).toFixed(3),
        'ratio to no hook (minima)': +(Math.min(...xs) / bMin).toFixed(3),
        // each round's run over the same round's no-hook run: drift cancels
        'ratio to no hook (median of rounds)': +median(xs.map((x, r) => x / base[r])).toFixed(3),
      };
    });
    for (const u of unavailable) rows.push({ arm: `${u.peer}: not run`, note: String(u.reason) });
    rows.push({ arm: 'rounds', note: `${ROUNDS} x ${ITERATIONS.toLocaleString('en')} open+close of 16 unwatched files, pinned to CPU ${cpu}, arms in rotating order` });
    rows.push({ arm: 'tracing programs of others loaded (at start; at end)', note: `${othersAtStart}; ${othersOnSyscalls()} (they slow every arm alike)` });
    if (audit)
      rows.push({
        arm: 'audit after this run',
        note: "enabled flag and rules as found; but tasks forked from now on carry audit's syscall work until reboot (the kernel's audit_ever_enabled): see the task,never arm",
      });
    rows.push({ arm: 'load average (1 min) at end', note: os.loadavg()[0].toFixed(2) });
    return rows;
  } finally {
    process.removeListener('exit', onExit);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
