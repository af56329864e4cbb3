// Watches that follow their paths, under churn: 1,000 watched files, one of
// them replaced by rename (write + mv, as editors and package upgrades do) 100
// times a second by another process; latency from each rename to the moment
// the keeper has the new inode in the kernel map, and the keeper process's CPU.
// Then the cost of noise the keeper must ignore: 10,000 creates/s in an
// unwatched sibling directory of a watched file, and in the watched file's own
// directory (every create is a notification there, filtered by name).
import fs from 'node:fs';
import path from 'node:path';
import { fork } from 'node:child_process';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { ACCESS_ALL } from '../fileaccess/layout';
import { WatchKeeper } from '../fileaccess/watch-keeper';
import { Logger } from '../util/log';
import { sleep, tmpDir } from '../testing/kernel';
import { kernelDevFromStat } from '../sys/devnum';

export interface Row {
  [k: string]: string | number;
}

const now = () => performance.timeOrigin + performance.now();
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

/** The churner: a child process so the keeper's CPU is its own. */
function churn(mode: 'replace' | 'create', dir: string, files: string[], perSec: number, seconds: number, onRename?: (f: string, t: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--churn', mode, dir, String(perSec), String(seconds)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    if (mode === 'replace') child.send(files);
    let done = 0;
    child.on('message', (m: { f?: string; t?: number; done?: number }) => {
      if (m.f && m.t) onRename?.(m.f, m.t);
      if (m.done !== undefined) done = m.done;
    });
    child.on('error', reject);
    child.on('exit', () => resolve(done));
  });
}

async function cpuDuring<T>(work: () => Promise<T>): Promise<{ result: T; cpuPct: number; seconds: number }> {
  const c0 = process.cpuUsage();
  const t0 = now();
  const result = await work();
  const c = process.cpuUsage(c0);
  const seconds = (now() - t0) / 1000;
  return { result, cpuPct: +(((c.user + c.system) / 1e6 / seconds) * 100).toFixed(1), seconds: +seconds.toFixed(2) };
}

export async function watchChurn(log: Logger): Promise<Row[]> {
  const dir = tmpDir('hive-churn-');
  const { monitor } = FileAccessMonitor.open({ mode: 'auto', maxWatches: 4096, log });
  const keeper = new WatchKeeper(monitor, { log, rescanMs: 0 });
  try {
    const files = Array.from({ length: 1000 }, (_, i) => path.join(dir, 'watched', `f${i}`));
    fs.mkdirSync(path.join(dir, 'watched'));
    fs.mkdirSync(path.join(dir, 'sibling'));
    for (const f of files) fs.writeFileSync(f, 'v0');
    keeper.set('bench', { root: '/', patterns: files, access: ACCESS_ALL });
    const pending = new Map<string, { t: number; ino?: bigint }>();
    const lat: number[] = [];
    const idle = await cpuDuring(() => new Promise((r) => setTimeout(r, 2000)));
    // each rename's latency: until the file's new inode is in the kernel map
    const poll = setInterval(() => {
      for (const [f, p] of pending) {
        let st: fs.BigIntStats;
        try {
          st = fs.statSync(f, { bigint: true });
        } catch {
          continue;
        }
        const ref = { ino: st.ino, dev: kernelDevFromStat(st.dev) };
        if (monitor.lookup(ref)) {
          lat.push(now() - p.t);
          pending.delete(f);
        }
      }
    }, 1);
    const replace = await cpuDuring(() => churn('replace', dir, files, 100, 10, (f, t) => pending.set(f, { t })));
    await new Promise((r) => setTimeout(r, 1500));
    clearInterval(poll);
    const caught = lat.length;
    const rows: Row[] = [
      {
        scenario: '1,000 watched files, 100 replacements/s (rename over) for 10 s',
        replacements: replace.result,
        'followed within 1.5 s': caught,
        'latency median ms': +pct(lat, 50).toFixed(1),
        'latency p99 ms': +pct(lat, 99).toFixed(1),
        'keeper CPU % (incl. the latency poll)': replace.cpuPct,
        'idle CPU %': idle.cpuPct,
        'target median': '<= 100 ms (bound 1 s)',
      },
    ];
    keeper.set('bench', { root: '/', patterns: [path.join(dir, 'watched', 'f0')], access: ACCESS_ALL });
    const before = keeper.counters.notifications;
    const sib = await cpuDuring(() => churn('create', path.join(dir, 'sibling'), [], 10_000, 10));
    rows.push({ scenario: '10,000 creates/s in an unwatched sibling directory, 10 s', creates: sib.result, notifications: keeper.counters.notifications - before, 'keeper CPU %': sib.cpuPct });
    const before2 = keeper.counters.notifications;
    const reresolvedBefore = keeper.reresolved.notify;
    const same = await cpuDuring(() => churn('create', path.join(dir, 'watched'), [], 10_000, 10));
    rows.push({
      scenario: "10,000 creates/s in the watched file's own directory, 10 s",
      creates: same.result,
      notifications: keeper.counters.notifications - before2,
      're-resolutions': keeper.reresolved.notify - reresolvedBefore,
      'keeper CPU %': same.cpuPct,
    });
    return rows;
  } finally {
    keeper.close();
    monitor.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A periodic reconcile's pass over unchanged targets, shaped like one pod of
 * the memory bench's node: 100 keys (traces) on 64 patterns (dir/* of 64
 * files each), so 36 resolutions are shared by two keys. Arms: every set()
 * walks its patterns again (setRecheckMs 0, what each pass did before), and the
 * default (a resolution walked at most once per interval, so once per pass).
 * Each round builds the keeper, waits out the interval (passes are 30 s apart
 * in the agent: everything is due) and times one pass; arms alternate.
 */
export async function periodicPass(log: Logger, rounds = 5): Promise<Row[]> {
  const dir = tmpDir('hive-pass-');
  const { monitor } = FileAccessMonitor.open({ mode: 'auto', maxWatches: 8192, log });
  const DIRS = 64;
  const KEYS = 100;
  const INTERVAL_MS = 1000;
  try {
    for (let d = 0; d < DIRS; d++) {
      fs.mkdirSync(path.join(dir, `p${d}`));
      for (let f = 0; f < 64; f++) fs.writeFileSync(path.join(dir, `p${d}`, `f${f}`), '');
    }
    const target = (k: number) => ({ root: '/', patterns: [path.join(dir, `p${k % DIRS}`, '*')], access: ACCESS_ALL, meta: { trace: { namespace: 'bench', name: `t${k}` } } });
    const arms = [
      { name: 'every set() walks its patterns (setRecheckMs 0)', recheck: 0, ms: [] as number[], walks: 0 },
      { name: `a resolution walked once per interval (setRecheckMs ${INTERVAL_MS})`, recheck: INTERVAL_MS, ms: [] as number[], walks: 0 },
    ];
    for (let r = 0; r < rounds; r++) {
      for (const arm of r % 2 ? [...arms].reverse() : arms) {
        const keeper = new WatchKeeper(monitor, { log, rescanMs: 0, setRecheckMs: arm.recheck });
        try {
          for (let k = 0; k < KEYS; k++) keeper.set(`k${k}`, target(k));
          await sleep(INTERVAL_MS + 100);
          const w0 = keeper.counters.resolves;
          const t0 = now();
          for (let k = 0; k < KEYS; k++) keeper.set(`k${k}`, target(k));
          arm.ms.push(now() - t0);
          arm.walks = keeper.counters.resolves - w0;
        } finally {
          for (let k = 0; k < KEYS; k++) keeper.remove(`k${k}`);
          keeper.close();
        }
      }
    }
    const base = pct(arms[0].ms, 50);
    return arms.map((a) => ({
      scenario: `periodic pass: ${KEYS} keys, ${DIRS} patterns (dir/* of 64 files), nothing changed`,
      arm: a.name,
      'patterns walked per pass': a.walks,
      'ms per pass (median)': +pct(a.ms, 50).toFixed(2),
      'runs ms': a.ms.map((x) => x.toFixed(1)).join(' '),
      'ratio to every set() walking': +(pct(a.ms, 50) / base).toFixed(3),
    }));
  } finally {
    monitor.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// the child: paced renames or creates
if (process.argv[2] === '--churn') {
  const [, , , mode, dir, perSecS, secondsS] = process.argv;
  const perSec = Number(perSecS);
  const end = Date.now() + Number(secondsS) * 1000;
  let n = 0;
  const run = (files: string[]) => {
    const t0 = Date.now();
    const tick = () => {
      const due = Math.floor(((Date.now() - t0) / 1000) * perSec);
      while (n < due) {
        if (mode === 'replace') {
          const f = files[n % files.length];
          fs.writeFileSync(`${f}.tmp`, String(n));
          fs.renameSync(`${f}.tmp`, f);
          process.send!({ f, t: now() });
        } else {
          const f = path.join(dir, `c${n}`);
          fs.writeFileSync(f, '');
          fs.unlinkSync(f);
        }
        n++;
      }
      if (Date.now() < end) setTimeout(tick, 1);
      else {
        process.send!({ done: n });
        process.disconnect();
      }
    };
    tick();
  };
  if (mode === 'replace') process.once('message', (files: string[]) => run(files));
  else run([]);
}
