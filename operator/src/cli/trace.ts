// `hive trace PATH...`: audit host paths without Kubernetes.
import { log as rootLog } from '../util/log';
import { HiveError, UsageError, errorMessage } from '../util/errors';
import type { ContainerTarget } from './container-target';
import { TraceOptions } from './args';
import { Plan, planWatches } from './watch-plan';
import { resolveHostPaths } from '../resolve/host-paths';
import { AttachError, FileAccessMonitor } from '../fileaccess/monitor';
import { accessNames } from '../fileaccess/layout';
import { MODES, Mode } from '../fileaccess/modes';
import { probeMode, supportedList } from '../fileaccess/probe';
import { prettyLine, toRecord } from '../fileaccess/file-event';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { watchDrops } from '../output/drop-watch';

const log = rootLog.child({ module: 'trace' });

function hostPlan(opts: TraceOptions): Plan {
  const { resolved, problems } = resolveHostPaths(opts.paths);
  const fatal = problems.filter((p) => !(opts.skipMissing && p.reason === 'no such file or directory'));
  for (const p of problems) if (!fatal.includes(p)) log.warn({ path: p.path }, 'path not found, skipped');
  if (fatal.length) {
    throw new UsageError(fatal.map((p) => `hive trace: ${p.path}: ${p.reason}`).join('\n'));
  }
  if (resolved.length === 0) throw new UsageError('hive trace: none of the given paths exists; nothing to watch');
  return planWatches(opts.access, resolved);
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
  const inContainer = opts.pid !== undefined || opts.container !== undefined;
  // the runtime clients (gRPC) load only when a container is involved
  const ct = inContainer ? await import('./container-target.js') : undefined;
  const target: ContainerTarget | undefined = ct ? await ct.containerTarget(opts) : undefined;
  const containerPlan = ct?.containerPlan;
  const rootOf = ct?.rootOf;
  let plan: Plan;
  try {
    plan = target ? await containerPlan!(opts, target) : hostPlan(opts);
  } catch (e) {
    target?.client?.close();
    throw e;
  }
  const infos = plan.infos;
  let entries = plan.entries;

  let monitor: FileAccessMonitor;
  let reasons: Record<string, string>;
  try {
    ({ monitor, reasons } = openMonitor(opts));
    try {
      monitor.watch(entries);
    } catch (e) {
      monitor.close();
      throw e;
    }
  } catch (e) {
    target?.client?.close();
    throw e;
  }

  // A restarted container has a new init pid and a new overlay mount: resolve
  // again in the new root and swap the watches (removing the stale ones).
  if (target?.client && target.container) {
    const id = target.container.id;
    let swapping = Promise.resolve();
    const reresolve = (why: string) => {
      swapping = swapping.then(async () => {
        try {
          const pid = await target.client!.taskPid(id);
          if (!pid || pid === target.pid) return;
          const next = await containerPlan!(opts, { ...target, pid, root: rootOf!(opts, pid) });
          monitor.unwatch(entries);
          monitor.watch(next.entries);
          entries = next.entries;
          infos.clear();
          for (const [k, v] of next.infos) infos.set(k, v);
          target.pid = pid;
          log.info(
            { container: id, pid, watches: entries.length, kernelWatches: monitor.kernelWatchedCount(), why },
            'container restarted; watches re-resolved',
          );
        } catch (e) {
          log.warn({ container: id, err: errorMessage(e) }, 'cannot re-resolve the container after a restart');
        }
      });
    };
    target.client.subscribeTasks(
      (ev) => {
        if (ev.containerId === id && ev.topic === '/tasks/start') reresolve('task start');
      },
      () => reresolve('event stream re-opened'),
    );
    // A safety net for events missed while the stream was down or stalled: a cheap
    // pid check every few seconds (a restart is still seen at once through events).
    const resync = setInterval(() => reresolve('periodic check'), 5000);
    resync.unref();
  }

  const writer = new EventWriter(opts.pretty ? prettyLine : undefined);
  const clock = new Clock();
  monitor.onEvents((events) => {
    for (const e of events) writer.write(toRecord(e, infos.get(e.watchId), clock));
  });

  const dropCheck = watchDrops(() => monitor.counters().dropped, log);

  log.info(
    {
      mode: monitor.mode,
      why: opts.mode === 'auto' ? { chosen: `first of fentry, kprobe, lsm, tracepoint that attaches`, passedOver: reasons } : 'requested',
      skippedPrograms: monitor.skipped,
      watches: entries.length,
      ...(target ? { pid: target.pid, root: target.root, container: target.container } : {}),
      access: accessNames(opts.access),
    },
    'ready',
  );

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      clearInterval(dropCheck);
      const counters = monitor.counters();
      monitor.close();
      target?.client?.close();
      writer.flush();
      log.info({ signal, counters, events: writer.written }, 'stopped');
      resolve(0);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
