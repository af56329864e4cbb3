// `hive agent`: the node agent, wired. Informers on HiveTraces (all
// namespaces), this node's Pods and the Nodes feed the reconciler
// (reconciler.ts: a work queue of traces, each turned into watched inodes and
// selected pod addresses, and a status report); the file-access monitor's events
// go through the file pipeline, the network monitor's through the network
// pipeline, both to stdout; the correlator joins what both write for traces
// with spec.correlate (read-then-egress alerts, blocks); the nodes' addresses are the cluster's
// (cluster-cidrs.ts); /metrics and the health endpoints are metrics.ts.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { log as rootLog } from '../util/log';
import { errorMessage } from '../util/errors';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { ModeOption } from '../fileaccess/modes';
import { WatchKeeper } from '../fileaccess/watch-keeper';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { GROUP, HiveTrace, PLURAL, VERSION } from '../kube/hivetrace-schema';
import { k8sLib, loadKubeConfig } from '../kube/client';
import { SelfRestartingInformer } from '../kube/informer';
import { Cidr } from '../netmon/addr';
import { AgentMetrics } from './metrics';
import { StatusWriter } from './status-writer';
import { DEFAULT_INVENTORY_SIZE, Inventory } from './inventory';
import { Accessors, podRefByUid } from './accessors';
import { FilePipeline } from './file-pipeline';
import { NetworkPipeline } from './network-pipeline';
import { clusterCidrs } from './cluster-cidrs';
import { ContainerRuntime, ContainerdRuntime, CriRuntime } from './container-runtime';
import { Reconciler } from './reconciler';
import { Correlator } from './correlator';
import { traceId } from './keys';
import { DEFAULT_EXEMPT_EXES, exemptExecutables, hostMountNs } from './exemptions';
import type { NodeEnforcement } from './enforcement';
import { procRootIdentity } from './root-identity';

const log = rootLog.child({ module: 'agent' });

export const DEFAULT_STATUS_INTERVAL_MS = 60_000;
export const DEFAULT_RESYNC_INTERVAL_MS = 30_000;
export const DEFAULT_INVENTORY_INTERVAL_MS = 30_000;
/**
 * The agent's ring buffers. Their data pages are mapped twice (so records
 * never wrap) and populated at mmap, so each counts twice its size in RSS
 * from the start: the 8 + 4 MiB of the monitors' defaults cost 24 MiB.
 * 4 MiB holds ~47,000 file records (88 bytes), 240 ms at 200,000 events/s;
 * 2 MiB ~12,000 network records (176 bytes, one per flow start or end).
 * A full ring is counted (hive_events_dropped), never silent.
 */
export const AGENT_FILE_RING_BYTES = 4 << 20;
export const AGENT_NET_RING_BYTES = 2 << 20;
/**
 * The watch keeper's own full re-resolution (its safety net for what inotify
 * missed). The reconciler's resync already re-resolves every path each
 * resync interval, so the keeper's default 10 s made four full passes per
 * 30 s; at 65,536 watched files one pass is seconds of the one JS thread,
 * during which the ring buffer fills (BENCHMARKS.md, agent memory).
 */
export const AGENT_KEEPER_RESCAN_MS = 60_000;

export interface AgentOptions {
  nodeName: string;
  containerdSocket: string;
  /** Find containers through this CRI socket instead of containerd's API (CRI-O, ...). */
  criSocket?: string;
  hostProc: string;
  mode: ModeOption;
  maxWatches: number;
  maxMatches: number;
  /** Port of /metrics, /healthz, /readyz; 0 picks a free one. */
  metricsPort: number;
  /** Service CIDRs and other cluster ranges; nodes' pod CIDRs and addresses are added from the API. */
  clusterCidrs?: Cidr[];
  /** Event counters in a trace's status are written at most this often. */
  statusIntervalMs?: number;
  /** Every trace is reconciled this often, whatever happened (a safety net). */
  resyncIntervalMs?: number;
  /** Entries of a trace's access inventory in its status (0: none). */
  inventorySize?: number;
  /** The inventory in a trace's status is written at most this often. */
  inventoryIntervalMs?: number;
  /** The kernel's storm folding interval (absent: the monitor's default; 0: off). */
  aggregateMs?: number;
  /** false: the node's kill switch, every deny or kill trace is audited (would-deny). Default true. */
  enforce?: boolean;
  /** Processes in the host's mount namespace may be stopped too (default: exempt). */
  allowHostEnforcement?: boolean;
  /** Host paths of executables never stopped, besides DEFAULT_EXEMPT_EXES and the runtime's running processes. */
  exemptExes?: string[];
}

type AnyInformer = SelfRestartingInformer<k8s.KubernetesObject>;

export class Agent {
  readonly metrics = new AgentMetrics();
  metricsPort = 0;
  private readonly runtime: ContainerRuntime;
  private readonly writer = new EventWriter();
  private readonly clock = new Clock();
  private monitor: FileAccessMonitor | undefined;
  private keeper: WatchKeeper | undefined;
  private files: FilePipeline | undefined;
  private net: NetworkPipeline | undefined;
  private correlator: Correlator | undefined;
  private status: StatusWriter | undefined;
  private reconciler: Reconciler | undefined;
  private informers: AnyInformer[] = [];
  private resyncTicker: NodeJS.Timeout | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.runtime = opts.criSocket ? new CriRuntime(opts.criSocket) : new ContainerdRuntime(opts.containerdSocket, rootLog);
  }

  /** Starts everything; on failure, releases what was started and rethrows. */
  async start(): Promise<void> {
    try {
      await this.startAll();
    } catch (e) {
      await this.stop(true).catch(() => undefined);
      throw e;
    }
  }

  private async startAll(): Promise<void> {
    const o = this.opts;
    this.runtime.checkSocket();
    // enforcement is safe by design: the host's own processes are exempt unless the deployer opts in
    let exemptMountNs = 0;
    let hostProblem: string | undefined;
    try {
      if (!o.allowHostEnforcement) exemptMountNs = hostMountNs(o.hostProc);
    } catch (e) {
      // without it nothing is stopped here: deny and kill traces say why
      hostProblem = `the host's processes cannot be exempted: ${errorMessage(e)} (--allow-host-enforcement enforces without)`;
    }
    const { monitor, reasons } = FileAccessMonitor.open({ mode: o.mode, maxWatches: o.maxWatches, ringBufferBytes: AGENT_FILE_RING_BYTES, aggregateMs: o.aggregateMs, enforce: 'capable', exemptMountNs, log });
    this.monitor = monitor;
    const enforcement: NodeEnforcement = { mode: monitor.mode, can: monitor.enforce, enabled: o.enforce !== false, ...(hostProblem ? { problem: hostProblem } : {}) };
    // paths follow their files; a path that changes state makes its trace report again
    let reconciler: Reconciler | undefined;
    const keeper = new WatchKeeper(monitor, {
      log,
      rescanMs: AGENT_KEEPER_RESCAN_MS,
      onChange: (owner) => reconciler?.pathsChanged(owner),
      onReresolved: (cause) => this.metrics.watchReresolved.inc({ cause }),
      rootIdentity: procRootIdentity,
    });
    this.keeper = keeper;
    const registry = keeper.registry;
    let traces: SelfRestartingInformer<HiveTrace & k8s.KubernetesObject> | undefined;
    const inventory = new Inventory(o.inventorySize ?? DEFAULT_INVENTORY_SIZE);
    let podCache: SelfRestartingInformer<k8s.V1Pod> | undefined;
    const accessors = new Accessors({ hostProc: o.hostProc, podByUid: (uid) => podRefByUid(podCache?.list() ?? [], uid) });
    const files = new FilePipeline(registry, this.writer, this.clock, o.nodeName, this.metrics, (t) => traces?.get(t.name, t.namespace)?.spec.rateLimit, inventory, accessors);
    this.files = files;
    monitor.onRecords((records) => files.handle(records));
    const net = NetworkPipeline.open(this.writer, this.clock, o.nodeName, this.metrics, o.clusterCidrs ?? [], log, AGENT_NET_RING_BYTES);
    this.net = net;
    let status: StatusWriter | undefined;
    const correlator = new Correlator({
      node: o.nodeName,
      spec: (t) => traces?.get(t.name, t.namespace)?.spec.correlate,
      emit: (a) => this.writer.write(a),
      hold: net ? (uid, holder, flags) => net.registry.hold(uid, holder, flags) : undefined,
      onAlert: (t) => this.metrics.alerts.inc({ trace: traceId(t), alert: 'read-then-egress' }),
      onBlock: (t) => this.metrics.egressBlocks.inc({ trace: traceId(t) }),
      onBlocksChanged: (t) => status?.blocksChanged(t),
      log,
    });
    this.correlator = correlator;
    files.tap = correlator;
    if (net) net.tap = (r) => correlator.flow(r);
    this.metrics.collectBlocks(() => correlator.blockedPods);
    this.metrics.collectFrom(() => {
      const c = monitor.counters();
      const netErrors = this.net ? this.net.monitor.counters().handlerErrors : 0;
      return { watchedInodes: registry.inodes, dropped: c.dropped, emitted: c.emitted, lost: c.lost, aggregated: c.aggregated, aggFull: c.aggFull, pipelineErrors: c.handlerErrors + netErrors };
    });
    this.metrics.collectWatches(() => keeper.counters);
    this.metricsPort = await this.metrics.listen(o.metricsPort);

    const kc = await loadKubeConfig();
    // after the kubeconfig: a bad one is the one line a failed start prints
    if (hostProblem) log.warn({ problem: hostProblem }, 'enforcement unavailable');
    this.refreshExemptions();
    const { CoreV1Api, CustomObjectsApi, makeInformer } = await k8sLib();
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const apiError = (what: string) => () => this.metrics.apiErrors.inc({ what });
    const fieldSelector = `spec.nodeName=${o.nodeName}`;
    const pods = new SelfRestartingInformer<k8s.V1Pod>(
      makeInformer(kc, `/api/v1/pods?fieldSelector=${encodeURIComponent(fieldSelector)}`, () => core.listPodForAllNamespaces({ fieldSelector })),
      'pods',
      log,
      {
        upsert: (p) => this.reconciler?.podChanged(p),
        remove: (p) => {
          this.reconciler?.podDeleted(p);
          net?.releasePod({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' });
          correlator.releasePod(p.metadata?.uid ?? '');
          accessors.podGone(p.metadata?.uid ?? '');
        },
      },
      apiError('watch'),
    );
    podCache = pods;
    traces = new SelfRestartingInformer<HiveTrace & k8s.KubernetesObject>(
      makeInformer(kc, `/apis/${GROUP}/${VERSION}/${PLURAL}`, () =>
        custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }) as Promise<k8s.KubernetesListObject<HiveTrace & k8s.KubernetesObject>>,
      ),
      'hivetraces',
      log,
      { upsert: (t) => this.reconciler?.traceChanged(t), remove: (t) => this.reconciler?.traceDeleted(t) },
      apiError('watch'),
    );
    const traceCache = traces;
    const nodes = new SelfRestartingInformer<k8s.V1Node>(
      makeInformer(kc, '/api/v1/nodes', () => core.listNode()),
      'nodes',
      log,
      { upsert: () => this.updateClusterCidrs(nodes), remove: () => this.updateClusterCidrs(nodes) },
      apiError('watch'),
    );
    this.status = new StatusWriter(custom, o.nodeName, log, {
      counters: (t) => files.counters(t),
      stored: (t) => traceCache.get(t.name, t.namespace)?.status?.nodes?.find((n) => n.node === o.nodeName),
      countersIntervalMs: o.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS,
      ...(inventory.enabled
        ? {
            inventory: (t) => files.inventoryOf(t),
            adoptInventory: (t, stored) => inventory.seed(traceId(t), stored),
            inventoryIntervalMs: o.inventoryIntervalMs ?? DEFAULT_INVENTORY_INTERVAL_MS,
          }
        : {}),
      onWrite: (t) => this.metrics.statusWrites.inc({ trace: traceId(t) }),
      onError: apiError('status'),
      blocks: (t) => correlator.blocks(t),
    });
    status = this.status;
    this.reconciler = new Reconciler({
      hostProc: o.hostProc,
      maxMatches: o.maxMatches,
      traces: traceCache,
      pods,
      runtime: this.runtime,
      keeper,
      network: net?.registry,
      status: this.status,
      metrics: this.metrics,
      enforcement,
      accessors,
      onTraceGone: (t) => {
        files.releaseTrace(t);
        correlator.releaseTrace(t);
      },
      log,
    });
    reconciler = this.reconciler;
    const rec = reconciler;
    // a task (re)start can change a container's pid
    this.runtime.follow(
      (id) => rec.taskStarted(id),
      () => rec.enqueueAll('gap'),
    );
    this.informers = [pods, traces, nodes] as unknown as AnyInformer[];
    await Promise.all(this.informers.map((i) => i.start()));
    rec.start();
    // a safety net for whatever changed without an event (the keeper follows paths itself)
    this.resyncTicker = setInterval(() => {
      rec.enqueueAll('resync');
      this.refreshExemptions(); // a runtime upgraded in place is another inode
    }, o.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS);
    this.resyncTicker.unref();
    this.metrics.ready = true;
    log.info(
      {
        node: o.nodeName,
        mode: monitor.mode,
        passedOver: reasons,
        enforcement: { can: monitor.enforce ?? 'nothing', enabled: enforcement.enabled, hostExempt: exemptMountNs !== 0, ...(hostProblem ? { problem: hostProblem } : {}) },
        metricsPort: this.metricsPort,
        runtime: o.criSocket ? { cri: o.criSocket } : { containerd: o.containerdSocket },
        network: net ? { clusterCidrs: net.monitor.clusterCidrs } : 'unavailable',
      },
      'ready',
    );
  }

  /**
   * The executables enforcement never stops (the kubelet, the container
   * runtime, --exempt-exe), found on the host now; written to the kernel when
   * they changed. A failure keeps the previous set and is logged.
   */
  /** The comm-named processes refused at the last refresh ("pid:comm"), so that each is said once. */
  private refusedSeen = new Set<string>();

  private refreshExemptions(): void {
    const monitor = this.monitor;
    if (!monitor) return;
    try {
      // the executables alone: the mount namespace was read once at start, and its failure must not cost these
      const found = exemptExecutables(this.opts.hostProc, [...DEFAULT_EXEMPT_EXES, ...(this.opts.exemptExes ?? [])]);
      // a process that names itself like the runtime but is not the node's: said once per process
      const impostors = found.refused.filter((r) => !this.refusedSeen.has(`${r.pid}:${r.comm}`));
      this.refusedSeen = new Set(found.refused.map((r) => `${r.pid}:${r.comm}`));
      if (impostors.length) log.warn({ processes: impostors.slice(0, 20), count: impostors.length }, 'processes named like the runtime or kubelet are not exempt');
      const key = (r: { ino: bigint; dev: number }) => `${r.dev}:${r.ino}`;
      const had = new Set(monitor.exemptExecutables.map(key));
      if (had.size === found.executables.length && found.executables.every((e) => had.has(key(e)))) return;
      monitor.setExemptExecutables(found.executables);
      const extra = new Set(this.opts.exemptExes ?? []);
      log.info(
        {
          executables: found.executables.map((e) => ({ path: e.path, from: e.from, ...(e.pids.length ? { pids: e.pids.length } : {}) })),
          // a missing default is the norm (a node has one runtime); a missing --exempt-exe is worth a look
          missing: found.skipped.filter((x) => extra.has(x.path)),
        },
        'exempt executables',
      );
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'exempt executables not refreshed; the previous set stays');
    }
  }

  /** Cluster addresses: configured CIDRs + every node's pod CIDRs and addresses. */
  private updateClusterCidrs(nodes: SelfRestartingInformer<k8s.V1Node>): void {
    if (!this.net) return;
    const { cidrs, skipped } = clusterCidrs(this.opts.clusterCidrs ?? [], nodes.list());
    for (const s of skipped) log.warn(s, 'node address skipped');
    this.net.setClusterCidrs(cidrs);
    log.debug({ clusterCidrs: this.net.monitor.clusterCidrs }, 'cluster CIDRs');
  }

  /** Releases everything in reverse order; `quiet` after a failed start (the error says it all). */
  async stop(quiet = false): Promise<void> {
    this.metrics.ready = false;
    clearInterval(this.resyncTicker);
    this.status?.stop();
    this.correlator?.stop();
    this.metrics.close();
    await Promise.all(this.informers.map((i) => i.stop().catch(() => undefined)));
    const reconciles = this.reconciler?.stop(); // waits for the runs in progress: closing the runtime ends their calls
    this.runtime.close();
    await reconciles;
    const netCounters = this.net?.counters();
    this.net?.close(); // detaches from every pod veth, reports open flows
    const counters = this.monitor?.counters();
    this.keeper?.close();
    this.monitor?.close();
    this.files?.stop();
    this.writer.flush();
    if (!quiet) log.info({ counters, netCounters }, 'stopped');
  }
}
