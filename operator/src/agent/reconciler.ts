// The reconciler: one work queue keyed by trace (work-queue.ts: adds coalesce,
// one run per key at a time, per-key exponential backoff on failure). Traces of
// different keys reconcile concurrently, up to `workers` at a time: each run
// touches only its own trace's entries (registry owners, network selections,
// status), and the registries are updated synchronously, so runs cannot interleave
// within one update.
// A trace is queued only for a cause: its spec changed (metadata.generation: the
// status subresource keeps status writes, ours and other nodes', from bumping
// it) or it was deleted; a pod it selects, or selected, changed in what a
// reconcile reads (pod-signature.ts); a container task started; the periodic
// resync; the runtime's event stream came back after a gap; a retry.
// A reconcile reads the informers' caches, turns (trace, matching pod,
// container) into watched inodes (container id from the pod's status -> pid
// from the runtime -> paths resolved inside /proc/<pid>/root -> the
// WatchRegistry) and selected pod addresses (NetworkRegistry), removes what the
// trace no longer owns, and reports to the StatusWriter.
// A dry run (spec.dryRun) resolves the same containers' paths but watches
// nothing: no registry owner (so no kernel map entry), no network selection
// (so no TC filter); its explanation (dry-run.ts) goes to the status instead.
// A live trace's status explains only the paths it could not watch (cheap:
// those alone are resolved again), besides their unresolved reasons.
// A deny or kill trace's owners carry the action the kernel applies, or the
// intent it audits as would-deny (enforcement.ts decides; the status says which).
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { Logger } from '../util/log';
import { errorMessage } from '../util/errors';
import { ACCESS, AccessName } from '../fileaccess/layout';
import { WatchKeeper } from '../fileaccess/watch-keeper';
import { parseContainerId } from '../runtime/client';
import { HiveTrace } from '../kube/hivetrace-schema';
import { matchesSelector } from '../kube/selector';
import { NET_FLAG } from '../netmon/layout';
import { parseIp } from '../netmon/addr';
import { NetSelection, NetworkRegistry, PodRef } from './network-registry';
import { NodeReport, StatusWriter } from './status-writer';
import { AgentMetrics } from './metrics';
import { ContainerRuntime } from './container-runtime';
import { podSignature } from './pod-signature';
import { Explanation } from './dry-run';
import { WorkQueue } from './work-queue';
import { RecentPids } from './recent-pids';
import { Yielder } from '../util/yield';
import { NodeEnforcement, TraceEnforcement, traceEnforcement } from './enforcement';
import { hostPidNamespace, pidNamespace, unscopable } from './pid-namespace';
import type { Accessors } from './accessors';
import { Cause, OwnerKey, TraceKey, ownerId, traceId, traceKeyOf } from './keys';
import { PodContainer, allContainerStatuses, podContainers, resolvedNow } from './pod-containers';

/** The part of an informer's cache the reconciler reads. */
export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export type Unresolved = NodeReport['unresolved'][number];

/** Who a watched file is reported as belonging to. */
export interface WatchMeta {
  trace: TraceKey;
  pod: PodRef;
  /** image: the pod status's containerStatuses[].image (else the spec's), when known. */
  container: { name: string; id: string; image?: string };
  /** The container's pid namespace: what its trace's deny or kill applies to (pid-namespace.ts). */
  scope?: number;
}

export interface ReconcilerOptions {
  hostProc: string;
  maxMatches: number;
  traces: Cache<HiveTrace>;
  pods: Cache<k8s.V1Pod>;
  runtime: ContainerRuntime;
  /** Keeps each container's watched paths resolved (and following their files). */
  keeper: WatchKeeper;
  /** Told each watched container's pid namespace (who accessed a file is told by it). */
  accessors?: Accessors;
  /** Absent when the network monitor could not load. */
  network?: NetworkRegistry;
  status: StatusWriter;
  metrics: AgentMetrics;
  /** What this node can stop (its mode, and the agent's --enforce). */
  enforcement: NodeEnforcement;
  /** A deleted trace was cleaned up: release what else it held (counters, series). */
  onTraceGone: (key: TraceKey) => void;
  log: Logger;
  workers?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Why a container has no process root to resolve in, or its id and pid. */
type Target = { id: string; pid: number } | { reason: string };

function accessMask(names: AccessName[] | undefined): number {
  return (names ?? ['read', 'write', 'exec']).reduce((m, n) => m | ACCESS[n], 0);
}

export class Reconciler {
  private readonly queue: WorkQueue<TraceKey, Cause>;
  /** What each trace put in the registry: a deleted trace or a gone pod is cleaned up from it. */
  private readonly owned = new Map<string, Map<string, OwnerKey>>();
  /** Containers whose task started before the pod's status named them: "podUid|name" → id. */
  private readonly started = new Map<string, string>();
  /** The container id each owner watches now (a new id is logged once). */
  private readonly watchedIds = new Map<string, string>();
  /** The pods (uids) each trace selected at its last reconcile: a change to one is a cause. */
  private readonly selected = new Map<string, { key: TraceKey; pods: Set<string> }>();
  /** Change detection only (the objects are in the informers' caches): */
  private readonly generations = new Map<string, number>();
  private readonly podSignatures = new Map<string, string>();
  /** Each watched container's pid namespace, by owner id. */
  private readonly scopes = new Map<string, number>();
  /** Debounce of keeper notifications, per trace. */
  private readonly pathTimers = new Map<string, NodeJS.Timeout>();
  private readonly log: Logger;
  /** Container pids from the runtime, reused while the process lives (recent-pids.ts). */
  private readonly pids: RecentPids;
  /** Shared by the workers: the event loop gets a turn at least every 10 ms of reconciling. */
  private readonly yielder = new Yielder(10);

  constructor(private readonly o: ReconcilerOptions) {
    this.log = o.log;
    this.pids = new RecentPids((id) => o.runtime.pid(id), o.hostProc);
    this.queue = new WorkQueue<TraceKey, Cause>({
      id: traceId,
      work: (key, causes) => this.reconcile(key, causes),
      retryCause: 'retry',
      workers: o.workers ?? 2,
      // a trace's add arrives while the pod cache may still be listing: reconciling
      // then would report (and for a live trace, watch) too few pods until the next event
      paused: true,
      baseDelayMs: o.baseDelayMs,
      maxDelayMs: o.maxDelayMs,
      onError: (key, err, retryInMs, failures) => {
        this.o.metrics.reconcileErrors.inc({ trace: traceId(key) });
        this.log.warn({ trace: traceId(key), err: errorMessage(err), retryInMs, failures }, 'reconcile failed; retrying');
      },
    });
  }

  // ---- causes ----

  /** A HiveTrace added or updated: reconciled when its spec is new or changed. */
  traceChanged(t: HiveTrace): void {
    const key = traceKeyOf(t);
    const gen = t.metadata.generation ?? -1;
    if (this.generations.get(traceId(key)) === gen) return;
    this.generations.set(traceId(key), gen);
    this.queue.add(key, 'spec');
  }

  traceDeleted(t: HiveTrace): void {
    const key = traceKeyOf(t);
    this.generations.delete(traceId(key));
    this.queue.add(key, 'deleted');
  }

  /** A pod of this node added or updated: its traces are reconciled when something they read changed. */
  podChanged(p: k8s.V1Pod): void {
    const uid = p.metadata?.uid ?? '';
    const sig = podSignature(p);
    if (this.podSignatures.get(uid) === sig) return;
    this.podSignatures.set(uid, sig);
    this.enqueueFor(p, 'pod');
  }

  podDeleted(p: k8s.V1Pod): void {
    this.podSignatures.delete(p.metadata?.uid ?? '');
    for (const k of this.started.keys()) if (k.startsWith(`${p.metadata?.uid ?? ''}|`)) this.started.delete(k);
    this.enqueueFor(p, 'pod');
  }

  /** Reconciles what was queued and what comes: call once every informer has listed. */
  start(): void {
    this.queue.resume();
  }

  /**
   * A task started: the traces of its pod. A restarted container's new id is
   * in the pod's status only after the kubelet's next relist (up to a second
   * or more), so the runtime's labels name the pod and container at once and
   * the new id is watched without waiting for the status (see containerTarget).
   */
  taskStarted(containerId: string): void {
    this.pids.forget(containerId);
    const named = (p: k8s.V1Pod) => allContainerStatuses(p).some((s) => s.containerID?.endsWith(`://${containerId}`) || s.containerID === containerId);
    const known = this.o.pods.list().filter(named);
    if (known.length > 0) {
      for (const p of known) this.enqueueFor(p, 'task');
      return;
    }
    this.o.runtime.identify(containerId).then(
      (who) => {
        if (!who) return;
        const pod = this.o.pods.list().find((p) => p.metadata?.uid === who.podUid);
        if (!pod) return;
        this.started.set(`${who.podUid}|${who.container}`, containerId);
        this.enqueueFor(pod, 'task');
      },
      (e) => this.log.debug({ containerId, err: errorMessage(e) }, 'started task not identified; the pod status will name it'),
    );
  }

  /** Every trace: the periodic resync, or after the runtime's events had a gap. */
  enqueueAll(cause: 'resync' | 'gap'): void {
    for (const t of this.o.traces.list()) this.queue.add(traceKeyOf(t), cause);
  }

  /** Traces that select the pod now or selected it at their last reconcile. */
  private enqueueFor(p: k8s.V1Pod, cause: Cause): void {
    const ns = p.metadata?.namespace;
    const uid = p.metadata?.uid ?? '';
    for (const t of this.o.traces.list(ns)) {
      if (matchesSelector(t.spec.selector, p.metadata?.labels)) this.queue.add(traceKeyOf(t), cause);
    }
    for (const s of this.selected.values()) if (s.pods.has(uid)) this.queue.add(s.key, cause);
  }

  // ---- reconcile ----

  private async reconcile(key: TraceKey, causes: Cause[]): Promise<void> {
    const id = traceId(key);
    this.o.metrics.reconciles.inc({ trace: id, cause: causes[0] });
    const end = this.o.metrics.reconcileSeconds.startTimer();
    try {
      await this.reconcileTrace(key, causes);
    } finally {
      end();
    }
  }

  private async reconcileTrace(key: TraceKey, causes: Cause[]): Promise<void> {
    const id = traceId(key);
    const trace = this.o.traces.get(key.name, key.namespace);
    const desired = new Set<string>();
    const unresolved: Unresolved[] = [];
    const failures: string[] = [];
    const pods = new Set<string>();
    const net: NetSelection[] = [];
    let podsMatched = 0;
    const dry = trace?.spec.dryRun === true;
    const explanation = new Explanation({ hostProc: this.o.hostProc, maxMatches: this.o.maxMatches });
    const enforcement = trace ? traceEnforcement(trace.spec, this.o.enforcement) : {};
    if (trace) {
      const access = accessMask(trace.spec.access as AccessName[] | undefined);
      const netMode = networkMode(trace);
      for (const pod of this.o.pods.list(key.namespace)) {
        if (pod.metadata?.deletionTimestamp) continue;
        if (!matchesSelector(trace.spec.selector, pod.metadata?.labels)) continue;
        podsMatched++;
        const podRef = { namespace: key.namespace, name: pod.metadata!.name!, uid: pod.metadata!.uid! };
        pods.add(podRef.uid);
        if (netMode !== 'off') this.selectPodNetwork(pod, podRef, key, netMode, net, unresolved);
        if (!trace.spec.paths?.length) continue;
        for (const c of podContainers(pod)) {
          if (trace.spec.containers && !trace.spec.containers.includes(c.name)) continue;
          if (!resolvedNow(c)) continue;
          await this.yielder.maybe();
          const owner: OwnerKey = { trace: key, podUid: podRef.uid, container: c.name };
          let target: Target;
          try {
            target = await this.containerTarget(pod, c.name);
          } catch (e) {
            // the runtime did not answer: keep what the container had, retry the trace
            failures.push(`${podRef.name}/${c.name}: ${errorMessage(e)}`);
            unresolved.push({ pod: podRef.name, container: c.name, path: '*', reason: errorMessage(e) });
            if (!dry && this.owned.get(id)?.has(ownerId(owner))) desired.add(ownerId(owner));
            continue;
          }
          if ('reason' in target) {
            unresolved.push({ pod: podRef.name, container: c.name, path: '*', reason: target.reason });
            continue;
          }
          if (dry) {
            unresolved.push(...explanation.container(podRef.name, c.name, target.pid, trace.spec.paths));
            continue;
          }
          desired.add(ownerId(owner));
          const root = `${this.o.hostProc}/${target.pid}/root`;
          // a deny or kill stops this pod's tasks only: by the pid namespace they cannot leave
          const scope = pidNamespace(this.o.hostProc, target.pid);
          const problem = unscopable(scope, hostPidNamespace(this.o.hostProc));
          const why = enforcement.action || enforcement.intent ? problem : undefined;
          if (why) unresolved.push({ pod: podRef.name, container: c.name, path: '*', reason: why });
          const meta: WatchMeta = { trace: key, pod: podRef, container: containerMeta(c, target.id), ...(problem ? {} : { scope }) };
          this.scopeOf(owner, problem ? undefined : scope, podRef);
          unresolved.push(...(await this.watchContainer(owner, root, trace.spec.paths, access, meta, why ? {} : enforcement)));
          const notWatched = this.o.keeper.status(ownerId(owner)).filter((p) => p.state !== 'ok').map((p) => p.pattern);
          if (notWatched.length) explanation.container(podRef.name, c.name, target.pid, notWatched);
        }
      }
    }
    for (const [oid, owner] of this.owned.get(id) ?? []) if (!desired.has(oid)) this.unwatchContainer(owner);
    if (dry) explanation.network(net.splice(0)); // a dry run selects no address: its filters stay off
    this.o.network?.set(id, net);
    if (trace && networkMode(trace) !== 'off' && !this.o.network) {
      unresolved.push({ pod: '*', container: '*', path: 'network', reason: 'network monitoring unavailable on this node (see the agent log)' });
    }
    unresolved.sort((a, b) => cmp(a.pod, b.pod) || cmp(a.container, b.container) || cmp(a.path, b.path) || cmp(a.reason, b.reason));
    const filesWatched = this.o.keeper.registry.filesOf(id);
    const podAddressesMonitored = this.o.network?.countByTrace().get(id) ?? 0;
    const explain = dry ? explanation.report() : explanation.report({ files: filesWatched, podAddresses: podAddressesMonitored });
    this.log.info({ trace: id, causes, present: Boolean(trace), podsMatched, filesWatched, podAddressesMonitored, unresolved, ...(enforcement.report ? { enforcement: enforcement.report } : {}), ...(dry ? { dryRun: { files: explain.files, podAddresses: explain.podAddresses } } : {}) }, 'reconciled');
    if (trace) {
      this.selected.set(id, { key, pods });
      const explained = dry ? { dryRun: true as const, explain } : explain.entries.length ? { explain } : {};
      this.o.status.report(key, { podsMatched, filesWatched, podAddressesMonitored, unresolved, ...(enforcement.report ? { enforcement: enforcement.report } : {}), ...explained });
    } else {
      this.selected.delete(id);
      this.o.status.forget(key);
      this.o.onTraceGone(key);
    }
    if (failures.length) throw new Error(`container runtime: ${failures.join('; ')}`);
  }

  /**
   * The container's id and its pid (from the runtime): the id a task start
   * named (taskStarted) while it runs and the status does not name it yet,
   * else the one in the pod's status, as the kubelet reports it.
   */
  private async containerTarget(pod: k8s.V1Pod, name: string): Promise<Target> {
    const st = allContainerStatuses(pod).find((s) => s.name === name);
    const startedKey = `${pod.metadata?.uid ?? ''}|${name}`;
    const started = this.started.get(startedKey);
    let id: string | undefined;
    if (st?.containerID) {
      try {
        id = parseContainerId(st.containerID, this.o.runtime.runtimeName);
      } catch (e) {
        if (!started) return { reason: errorMessage(e) };
      }
    }
    if (started && started !== id) {
      const pid = await this.pids.pid(started);
      if (pid) return { id: started, pid };
    }
    this.started.delete(startedKey); // the status caught up, or that task is gone
    if (!id) return { reason: 'container not running' };
    const pid = await this.pids.pid(id);
    return pid ? { id, pid } : { reason: 'container not running' };
  }

  /**
   * Watches `patterns` inside one container's root for `owner`, replacing what
   * it watched before; returns what did not resolve. The one place paths become
   * watched inodes (the watch keeper takes this over).
   */
  async watchContainer(owner: OwnerKey, root: string, patterns: string[], access: number, meta: WatchMeta, enforcement: TraceEnforcement = {}): Promise<Unresolved[]> {
    this.own(owner);
    // once per container (a restart brings a new id): when a new container became watched
    const oid = ownerId(owner);
    if (this.watchedIds.get(oid) !== meta.container.id) {
      this.watchedIds.set(oid, meta.container.id);
      this.log.info({ trace: traceId(owner.trace), pod: `${meta.pod.namespace}/${meta.pod.name}`, container: meta.container.name, containerId: meta.container.id }, 'watching container');
    }
    const unresolved: Unresolved[] = [];
    const { action, intent } = enforcement;
    for (const p of this.o.keeper.set(ownerId(owner), { root, patterns, access, ...(action ? { action } : {}), ...(intent ? { intent } : {}), maxMatches: this.o.maxMatches, meta })) {
      const at = { pod: meta.pod.name, container: meta.container.name, path: p.pattern };
      if (p.state !== 'ok') unresolved.push({ ...at, reason: p.reason ?? p.state });
      // a cut is not silent: the trace is not Ready while part of a glob goes unwatched
      if (p.truncated) unresolved.push({ ...at, reason: `${p.truncated.seen} matches, only the first ${p.truncated.limit} are watched (--max-matches)` });
    }
    return unresolved;
  }

  /** The keeper saw one owner's paths change state: its trace reports again (at most once a second). */
  pathsChanged(id: string): void {
    for (const mine of this.owned.values()) {
      const owner = mine.get(id);
      if (!owner) continue;
      const t = traceId(owner.trace);
      if (this.pathTimers.has(t)) return;
      const timer = setTimeout(() => {
        this.pathTimers.delete(t);
        this.queue.add(owner.trace, 'paths');
      }, 1000);
      timer.unref();
      this.pathTimers.set(t, timer);
      return;
    }
  }

  /** Stops watching everything `owner` watched. */
  unwatchContainer(owner: OwnerKey): void {
    this.o.keeper.remove(ownerId(owner));
    this.scopeOf(owner, undefined);
    this.watchedIds.delete(ownerId(owner));
    const id = traceId(owner.trace);
    const mine = this.owned.get(id);
    mine?.delete(ownerId(owner));
    if (mine?.size === 0) this.owned.delete(id);
  }

  /** Keeps the accessors' pid namespace -> pod map as the watched containers are (a namespace shared by several: held while one is). */
  private scopeOf(owner: OwnerKey, ns: number | undefined, pod?: PodRef): void {
    const oid = ownerId(owner);
    const had = this.scopes.get(oid);
    if (had === ns) return;
    if (had !== undefined) {
      this.scopes.delete(oid);
      if (![...this.scopes.values()].includes(had)) this.o.accessors?.scope(had, undefined);
    }
    if (ns !== undefined && pod) {
      this.scopes.set(oid, ns);
      this.o.accessors?.scope(ns, pod);
    }
  }

  private own(owner: OwnerKey): void {
    const id = traceId(owner.trace);
    let mine = this.owned.get(id);
    if (!mine) this.owned.set(id, (mine = new Map()));
    mine.set(ownerId(owner), owner);
  }

  /** A matched pod's addresses for the network monitor; host-network pods have none of their own. */
  private selectPodNetwork(pod: k8s.V1Pod, podRef: PodRef, trace: TraceKey, mode: string, out: NetSelection[], unresolved: Unresolved[]): void {
    if (pod.spec?.hostNetwork) {
      unresolved.push({ pod: podRef.name, container: '*', path: 'network', reason: "host-network pod: its traffic is the node's, not monitored" });
      return;
    }
    const ips = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
    const flags = NET_FLAG.monitor | (mode === 'block-external' ? NET_FLAG.blockExternal : 0);
    for (const ip of ips) {
      try {
        out.push({ ip, addr: parseIp(ip, 'pod IP'), pod: podRef, trace, flags });
      } catch (e) {
        unresolved.push({ pod: podRef.name, container: '*', path: 'network', reason: errorMessage(e) });
      }
    }
  }

  /** Resolves when no reconcile is queued or running. */
  drained(): Promise<void> {
    return this.queue.drained();
  }

  stop(): Promise<void> {
    for (const t of this.pathTimers.values()) clearTimeout(t);
    return this.queue.stop().finally(() => this.pids.close());
  }
}

/** spec.network.mode, except that correlate needs the pods' flows: off becomes monitor. */
export function networkMode(t: HiveTrace): string {
  const mode = t.spec.network?.mode ?? 'off';
  return mode === 'off' && t.spec.correlate ? 'monitor' : mode;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The container as events name it, with its image where the pod knows it. */
function containerMeta(c: PodContainer, id: string): WatchMeta['container'] {
  const image = c.status?.image || c.image;
  return image ? { name: c.name, id, image } : { name: c.name, id };
}
