// `hive trace PATH...`: audit host paths without Kubernetes.
import { log as rootLog } from '../util/log';
import fs from 'node:fs';
import { HiveError, UsageError, errorMessage } from '../util/errors';
import { ContainerdClient, K8S_NAMESPACE, parseContainerId } from '../containerd/client';
import { isNotFound } from '../containerd/grpc-call';
import { CriClient } from '../containerd/cri';
import { InRootFile, resolveInRoot } from '../resolve/in-root';
import { TraceOptions } from './args';
import { resolveHostPaths } from '../resolve/host-paths';
import { AttachError, FileAccessMonitor, WatchEntry } from '../bpf/file-access';
import { accessNames } from '../bpf/layout';
import { MODES, Mode } from '../bpf/modes';
import { probeMode, supportedList } from '../bpf/probe';
import { Clock, WatchInfo, toRecord } from '../audit/file-event';
import { EventWriter } from '../audit/event-writer';

const log = rootLog.child({ module: 'trace' });

interface Plan {
  entries: WatchEntry[];
  infos: Map<number, WatchInfo>;
}

/** Watch ids by inode: two names of one inode (hard links) share one watch and one id. */
function planWatches(
  access: number,
  files: { path: string; ino: bigint; dev: number }[],
  container?: WatchInfo['container'],
): Plan {
  const byInode = new Map<string, { entry: WatchEntry; info: WatchInfo }>();
  for (const r of files) {
    const k = `${r.dev}:${r.ino}`;
    const have = byInode.get(k);
    if (have) {
      if (have.info.path !== r.path) (have.info.aliases ??= []).push(r.path);
      continue;
    }
    const watchId = byInode.size + 1;
    const info: WatchInfo = container ? { path: r.path, container } : { path: r.path };
    byInode.set(k, { entry: { ino: r.ino, dev: r.dev, watchId, access }, info });
  }
  const infos = new Map<number, WatchInfo>();
  for (const { entry, info } of byInode.values()) infos.set(entry.watchId, info);
  return { entries: [...byInode.values()].map((v) => v.entry), infos };
}

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

/** The process whose root the paths live in, and the container it belongs to. */
interface ContainerTarget {
  pid: number;
  root: string;
  container?: { id: string; name: string };
  client?: ContainerdClient;
}

/** Over CRI (CRI-O and other runtimes): pid and name from ContainerStatus. No
 * task events in CRI v1, so a restart is not followed: the command says so. */
async function criTarget(opts: TraceOptions, criSocket: string): Promise<ContainerTarget> {
  const id = parseContainerId(opts.container!, null);
  if (!fs.existsSync(criSocket)) throw new HiveError(`hive trace: CRI socket not found at ${criSocket}`);
  const cri = new CriClient(criSocket, 5000);
  try {
    let st;
    try {
      st = await cri.containerStatus(id);
    } catch (e) {
      if (isNotFound(e)) throw new HiveError(`hive trace: container ${id} not found by the CRI runtime at ${criSocket}`);
      throw e;
    }
    if (!st.pid) throw new HiveError(`hive trace: container ${id} is not running`);
    log.warn({ container: id }, 'over CRI a container restart is not followed: run hive trace again after one');
    return { pid: st.pid, root: rootOf(opts, st.pid), container: { id, name: st.name } };
  } finally {
    cri.close();
  }
}

async function containerTarget(opts: TraceOptions): Promise<ContainerTarget> {
  if (opts.container !== undefined && opts.criSocket) return criTarget(opts, opts.criSocket);
  if (opts.container !== undefined) {
    const id = parseContainerId(opts.container);
    const client = new ContainerdClient(opts.containerdSocket, K8S_NAMESPACE, log);
    try {
      client.checkSocket();
      let info;
      try {
        info = await client.getContainer(id);
      } catch (e) {
        if (isNotFound(e)) throw new HiveError(`hive trace: container ${id} not found in containerd (namespace ${K8S_NAMESPACE})`);
        throw e;
      }
      const pid = await client.taskPid(id);
      if (!pid) throw new HiveError(`hive trace: container ${id} has no running task`);
      return { pid, root: rootOf(opts, pid), container: { id, name: info.name }, client };
    } catch (e) {
      client.close();
      throw e;
    }
  }
  const pid = opts.pid!;
  if (!fs.existsSync(`${opts.hostProc}/${pid}`)) throw new HiveError(`hive trace: no process ${pid} in ${opts.hostProc}`);
  const id = containerIdOfPid(opts.hostProc, pid);
  return { pid, root: rootOf(opts, pid), container: id ? { id, name: await containerName(opts, id) } : undefined };
}

/** The container's name from containerd, when it answers; else its id. */
async function containerName(opts: TraceOptions, id: string): Promise<string> {
  if (!fs.existsSync(opts.containerdSocket)) return id;
  const client = new ContainerdClient(opts.containerdSocket, K8S_NAMESPACE, log, 2000);
  try {
    return (await client.getContainer(id)).name;
  } catch {
    return id;
  } finally {
    client.close();
  }
}

function rootOf(opts: TraceOptions, pid: number): string {
  return `${opts.hostProc}/${pid}/root`;
}

/** The 64-hex container id in a process's cgroup path, when it has one. */
function containerIdOfPid(hostProc: string, pid: number): string | undefined {
  try {
    return /[0-9a-f]{64}/.exec(fs.readFileSync(`${hostProc}/${pid}/cgroup`, 'utf8'))?.[0];
  } catch {
    return undefined;
  }
}

async function containerPlan(opts: TraceOptions, t: ContainerTarget): Promise<Plan> {
  const res = await resolveInRoot(t.root, opts.paths, { maxMatches: opts.maxMatches });
  const problems: string[] = [];
  const files: InRootFile[] = [];
  for (const r of res) {
    if (r.truncated) log.warn({ pattern: r.pattern, limit: r.truncated.limit }, 'glob matched more than the limit; the rest are not watched');
    if (r.state === 'ok') files.push(...r.files);
    else if (r.state === 'not found' && opts.skipMissing) log.warn({ path: r.pattern, pid: t.pid }, 'path not found, skipped');
    else problems.push(`hive trace: ${r.pattern}: ${r.reason ?? r.state} (inside the root of pid ${t.pid})`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'));
  if (files.length === 0) throw new UsageError('hive trace: none of the given paths exists in the container; nothing to watch');
  return planWatches(opts.access, files, t.container);
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
  const target = inContainer ? await containerTarget(opts) : undefined;
  let plan: Plan;
  try {
    plan = target ? await containerPlan(opts, target) : hostPlan(opts);
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
          const next = await containerPlan(opts, { ...target, pid, root: rootOf(opts, pid) });
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
