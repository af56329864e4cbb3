// `hive trace PATH...`: audit host paths without Kubernetes.
import { log as rootLog } from '../util/log';
import { HiveError, UsageError } from '../util/errors';
import { TraceOptions } from './args';
import { resolveHostPaths } from '../resolve/host-paths';
import { AttachError, FileAccessMonitor, WatchEntry } from '../bpf/file-access';
import { accessNames } from '../bpf/layout';
import { MODES, Mode } from '../bpf/modes';
import { probeMode, supportedList } from '../bpf/probe';
import { Clock, WatchInfo, toRecord } from '../audit/file-event';
import { EventWriter } from '../audit/event-writer';

const log = rootLog.child({ module: 'trace' });

/** Watch ids by inode: hard links given twice share one watch and one id. */
function planWatches(opts: TraceOptions, resolved: ReturnType<typeof resolveHostPaths>['resolved']) {
  const byInode = new Map<string, { entry: WatchEntry; info: WatchInfo }>();
  for (const r of resolved) {
    const k = `${r.dev}:${r.ino}`;
    const have = byInode.get(k);
    if (have) {
      (have.info.aliases ??= []).push(r.path);
      continue;
    }
    const watchId = byInode.size + 1;
    byInode.set(k, { entry: { ino: r.ino, dev: r.dev, watchId, access: opts.access }, info: { path: r.path } });
  }
  const infos = new Map<number, WatchInfo>();
  for (const { entry, info } of byInode.values()) infos.set(entry.watchId, info);
  return { entries: [...byInode.values()].map((v) => v.entry), infos };
}

function openMonitor(opts: TraceOptions) {
  try {
    return FileAccessMonitor.open({ mode: opts.mode, maxWatches: opts.maxWatches, log });
  } catch (e) {
    if (e instanceof AttachError) {
      const modes = {} as Record<Mode, ReturnType<typeof probeMode>>;
      for (const m of MODES) modes[m] = m === e.mode ? { supported: false } : probeMode(m, log);
      throw new HiveError(`${e.message}; this kernel supports: ${supportedList({ modes })}`);
    }
    throw e;
  }
}

export async function runTrace(opts: TraceOptions): Promise<number> {
  const { resolved, problems } = resolveHostPaths(opts.paths);
  const fatal = problems.filter((p) => !(opts.skipMissing && p.reason === 'no such file or directory'));
  for (const p of problems) if (!fatal.includes(p)) log.warn({ path: p.path }, 'path not found, skipped');
  if (fatal.length) {
    throw new UsageError(fatal.map((p) => `hive trace: ${p.path}: ${p.reason}`).join('\n'));
  }
  if (resolved.length === 0) throw new UsageError('hive trace: none of the given paths exists; nothing to watch');

  const { monitor, reasons } = openMonitor(opts);
  const { entries, infos } = planWatches(opts, resolved);
  try {
    monitor.watch(entries);
  } catch (e) {
    monitor.close();
    throw e;
  }

  const writer = new EventWriter(opts.pretty);
  const clock = new Clock();
  monitor.onEvents((events) => {
    for (const e of events) writer.write(toRecord(e, infos.get(e.watchId), clock));
  });

  let lastDropped = 0;
  const dropCheck = setInterval(() => {
    const c = monitor.counters();
    if (c.dropped > lastDropped) log.warn({ dropped: c.dropped - lastDropped }, 'ring buffer full: events lost');
    lastDropped = c.dropped;
  }, 5000);
  dropCheck.unref();

  log.info(
    {
      mode: monitor.mode,
      why: opts.mode === 'auto' ? { chosen: `first of fentry, kprobe, lsm, tracepoint that attaches`, passedOver: reasons } : 'requested',
      skippedPrograms: monitor.skipped,
      watches: entries.length,
      paths: resolved.length,
      access: accessNames(opts.access),
    },
    'ready',
  );

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      clearInterval(dropCheck);
      const counters = monitor.counters();
      monitor.close();
      writer.flush();
      log.info({ signal, counters, events: writer.written }, 'stopped');
      resolve(0);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
