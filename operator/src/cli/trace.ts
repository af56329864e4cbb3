// `hive trace PATH...`: audit host paths without Kubernetes.
import { log as rootLog } from '../util/log';
import { HiveError, UsageError, errorMessage } from '../util/errors';
import type { ContainerTarget } from './container-target';
import { TraceOptions } from './args';
import { resolvePattern } from '../resolve/pattern';
import { AttachError, FileAccessMonitor } from '../fileaccess/monitor';
import { WatchKeeper, WatchTarget } from '../fileaccess/watch-keeper';
import { ACCESS_ALL, accessNames } from '../fileaccess/layout';
import { AUTO_ORDER, MODES, Mode } from '../fileaccess/modes';
import { Action, MODE_ENFORCEMENT } from '../fileaccess/action';
import { probeMode, supportedList } from '../fileaccess/probe';
import { prettyLine, toRecord } from '../fileaccess/file-event';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { watchDrops } from '../output/drop-watch';

const log = rootLog.child({ module: 'trace' });

/** The modes --mode auto tries for this action. */
function autoCandidates(action: Action): Mode[] {
  return action === 'audit' ? [...AUTO_ORDER] : AUTO_ORDER.filter((m) => MODE_ENFORCEMENT[m] === action);
}

/** The keeper's key of this run's watches. */
const KEY = 'hive-trace';

/** The paths to watch and the root they live in: "/" for the host. */
export interface Target {
  root: string;
  patterns: string[];
  /** Added to error lines: where the paths were looked up. */
  where: string;
  container?: { id: string; name: string; image?: string };
}

/**
 * Refuses what cannot be watched before anything is loaded: bad syntax and
 * errors always; paths that do not exist unless --skip-missing (then they are
 * pending, watched when they appear). One line per problem.
 */
export function checkTarget(opts: TraceOptions, t: Target): void {
  const problems: string[] = [];
  for (const p of t.patterns) {
    const r = resolvePattern(t.root, p, { maxMatches: opts.maxMatches });
    if (r.state === 'ok') continue;
    if (r.state === 'pending' && opts.skipMissing) continue;
    const why = r.state === 'pending' ? (t.root === '/' ? 'no such file or directory' : 'not found') : r.reason;
    problems.push(`hive trace: ${p}: ${why}${t.where}`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'));
}

function openMonitor(opts: TraceOptions) {
  try {
    return FileAccessMonitor.open({ mode: opts.mode, maxWatches: opts.maxWatches, enforce: opts.action === 'audit' ? undefined : opts.action, log });
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
  const inContainer = opts.pid !== undefined || opts.container !== undefined;
  // the runtime clients (gRPC) load only when a container is involved
  const ct = inContainer ? await import('./container-target.js') : undefined;
  const ctarget: ContainerTarget | undefined = ct ? await ct.containerTarget(opts) : undefined;
  const target = (pid?: number): Target =>
    ctarget
      ? { root: ct!.rootOf(opts, pid ?? ctarget.pid), patterns: opts.paths, where: ` (inside the root of pid ${pid ?? ctarget.pid})`, container: ctarget.container }
      : { root: '/', patterns: opts.paths, where: '' };
  const watchTarget = (t: Target): WatchTarget => ({
    root: t.root,
    patterns: t.patterns,
    access: opts.access,
    action: opts.action,
    maxMatches: opts.maxMatches,
    meta: t.container ? { container: t.container } : {},
  });

  let monitor: FileAccessMonitor;
  let reasons: Record<string, string>;
  let keeper: WatchKeeper;
  try {
    checkTarget(opts, target());
    ({ monitor, reasons } = openMonitor(opts));
    keeper = new WatchKeeper(monitor, { log });
    try {
      for (const p of keeper.set(KEY, watchTarget(target()))) {
        if (p.state === 'pending') log.warn({ path: p.pattern, ...(ctarget ? { pid: ctarget.pid } : {}) }, 'path not found; watched when it appears');
        if (p.truncated) log.warn({ pattern: p.pattern, seen: p.truncated.seen, limit: p.truncated.limit }, 'more matches than --max-matches; the rest are not watched');
      }
    } catch (e) {
      keeper.close();
      monitor.close();
      throw e;
    }
  } catch (e) {
    ctarget?.client?.close();
    throw e;
  }

  // A restarted container has a new init pid and a new overlay mount: the
  // same paths in the new root (the keeper swaps the inodes, new ones first).
  let resync: NodeJS.Timeout | undefined;
  if (ctarget?.client && ctarget.container) {
    const id = ctarget.container.id;
    let swapping = Promise.resolve();
    const reresolve = (why: string) => {
      swapping = swapping.then(async () => {
        try {
          const pid = await ctarget.client!.taskPid(id);
          if (!pid || pid === ctarget.pid) return;
          ctarget.pid = pid;
          keeper.set(KEY, watchTarget(target(pid)));
          // a restart is rare: counting the kernel map here (one syscall per entry) is affordable
          log.info({ container: id, pid, watches: keeper.registry.inodes, kernelWatches: monitor.kernelWatchedCount(), why }, 'container restarted; watches re-resolved');
        } catch (e) {
          log.warn({ container: id, err: errorMessage(e) }, 'cannot re-resolve the container after a restart');
        }
      });
    };
    ctarget.client.subscribeTasks(
      (ev) => {
        if (ev.containerId === id && ev.topic === '/tasks/start') reresolve('task start');
      },
      () => reresolve('event stream re-opened'),
    );
    // A safety net for events missed while the stream was down or stalled: a cheap
    // pid check every few seconds (a restart is still seen at once through events).
    resync = setInterval(() => reresolve('periodic check'), 5000);
    resync.unref();
  }

  const writer = new EventWriter(opts.pretty ? prettyLine : undefined);
  const clock = new Clock();
  monitor.onEvents((events) => {
    for (const e of events) {
      // one owner (this run) per inode; its path is the name it has now
      const [o] = keeper.owners(e.watchId, ACCESS_ALL);
      writer.write(toRecord(e, o, clock));
    }
  });

  const dropCheck = watchDrops(() => monitor.counters().dropped, log);

  log.info(
    {
      mode: monitor.mode,
      why: opts.mode === 'auto' ? { chosen: `first of ${autoCandidates(opts.action).join(', ')} that attaches`, passedOver: reasons } : 'requested',
      action: opts.action,
      skippedPrograms: monitor.skipped,
      aggregation: monitor.aggregation,
      watches: keeper.registry.inodes,
      pending: keeper.status(KEY).filter((p) => p.state === 'pending').length,
      ...(ctarget ? { pid: ctarget.pid, root: ctarget.root, container: ctarget.container } : {}),
      access: accessNames(opts.access),
    },
    'ready',
  );

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      clearInterval(dropCheck);
      clearInterval(resync);
      const counters = monitor.counters();
      const watches = keeper.counters;
      keeper.close();
      monitor.close();
      ctarget?.client?.close();
      writer.flush();
      log.info({ signal, counters, watches, events: writer.written }, 'stopped');
      resolve(0);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
