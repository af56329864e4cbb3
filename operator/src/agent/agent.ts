// `hive agent`: the node agent. Informers on HiveTraces (all namespaces) and on
// this node's Pods feed a queue of trace keys; one reconcile runs at a time and
// turns (trace, matching pod, container) into watched inodes: pid from
// containerd -> paths resolved inside the container root -> the BPF map, through
// the WatchRegistry, which removes exactly what a key owned. Events are
// enriched with trace, pod, container and node.
// A trace with spec.network.mode monitor|block-external also selects its pods'
// addresses in the network monitor (NetworkRegistry); the nodes' pod CIDRs and
// addresses plus the configured service CIDRs are the cluster's addresses.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { log as rootLog } from '../util/log';
import { errorMessage } from '../util/errors';
import { FileAccessMonitor } from '../fileaccess/monitor';
import { ModeOption } from '../fileaccess/modes';
import { ACCESS, AccessName } from '../fileaccess/layout';
import { ContainerdClient, K8S_NAMESPACE, LABEL_POD_NAMESPACE } from '../runtime/client';
import { resolveInRoot } from '../resolve/in-root';
import { FileEventRecord, toRecord } from '../fileaccess/file-event';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { GROUP, HiveTrace, PLURAL, VERSION } from '../kube/hivetrace-schema';
import { matchesSelector } from '../kube/selector';
import { k8sLib, loadKubeConfig } from '../kube/client';
import { SelfRestartingInformer } from '../kube/informer';
import { WatchRegistry } from '../fileaccess/watch-registry';
import { AgentMetrics } from './metrics';
import { RateLimiter } from '../output/rate-limit';
import { NodeReport, StatusWriter } from './status-writer';
import { NetMonitor } from '../netmon/net-monitor';
import { InterfaceTracker } from '../netmon/interface-tracker';
import { EVENT_CODE, NET_FLAG, REASON_CODE, SCOPE, VERDICT } from '../netmon/layout';
import { toNetRecord } from '../netmon/net-event';
import { Cidr, parseCidr, parseIp } from '../netmon/addr';
import { NetSelection, NetworkRegistry } from './network-registry';

const log = rootLog.child({ module: 'agent' });

export interface AgentOptions {
  nodeName: string;
  containerdSocket: string;
  hostProc: string;
  mode: ModeOption;
  maxWatches: number;
  maxMatches: number;
  /** Port of /metrics, /healthz, /readyz; 0 picks a free one. */
  metricsPort: number;
  /** Service CIDRs and other cluster ranges; nodes' pod CIDRs and addresses are added from the API. */
  clusterCidrs?: Cidr[];
}

/** The network monitor's parts, present when it could be loaded. */
interface Network {
  monitor: NetMonitor;
  tracker: InterfaceTracker;
  registry: NetworkRegistry;
}

const traceKey = (t: { metadata?: { namespace?: string; name?: string } }) => `${t.metadata?.namespace}/${t.metadata?.name}`;

function accessMask(names: AccessName[] | undefined): number {
  return (names ?? ['read', 'write', 'exec']).reduce((m, n) => m | ACCESS[n], 0);
}

export class Agent {
  private readonly traces = new Map<string, HiveTrace>();
  private readonly pods = new Map<string, k8s.V1Pod>();
  private readonly nodes = new Map<string, k8s.V1Node>();
  private net: Network | undefined;
  /** Blocked packets already counted in the metric, per flow. */
  private readonly blockedSeen = new Map<string, number>();
  private readonly queue = new Set<string>();
  private draining = false;
  private informers: SelfRestartingInformer<k8s.KubernetesObject>[] = [];
  private monitor!: FileAccessMonitor;
  private registry!: WatchRegistry;
  private readonly containerd: ContainerdClient;
  private readonly writer = new EventWriter();
  private readonly clock = new Clock();
  readonly metrics = new AgentMetrics();
  private readonly limiter = new RateLimiter<FileEventRecord>((r) => this.writer.write(r));
  private status!: StatusWriter;
  private readonly seen = new Map<string, { count: number; last?: string }>();
  private readonly lastReport = new Map<string, NodeReport>();
  private statusTicker: NodeJS.Timeout | undefined;
  private resyncTicker: NodeJS.Timeout | undefined;
  metricsPort = 0;

  constructor(private readonly opts: AgentOptions) {
    this.containerd = new ContainerdClient(opts.containerdSocket, K8S_NAMESPACE, log);
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
    this.containerd.checkSocket();
    const { monitor, reasons } = FileAccessMonitor.open({ mode: this.opts.mode, maxWatches: this.opts.maxWatches, log });
    this.monitor = monitor;
    this.registry = new WatchRegistry(monitor);
    monitor.onEvents((events) => {
      for (const e of events) {
        for (const o of this.registry.owners(e.watchId, e.access)) {
          const rec = toRecord(e, { path: o.path, aliases: o.aliases, trace: o.trace, pod: o.pod, container: o.container }, this.clock, this.opts.nodeName);
          rec.access = rec.access.filter((a) => (ACCESS[a] & o.access) !== 0);
          const tk = `${o.trace!.namespace}/${o.trace!.name}`;
          this.limiter.offer(`${tk}|${e.tgid}`, this.traces.get(tk)?.spec.rateLimit, rec);
          const s = this.seen.get(tk) ?? { count: 0 };
          s.count++;
          s.last = rec.time;
          this.seen.set(tk, s);
          for (const a of rec.access) this.metrics.events.inc({ trace: tk, access: a });
        }
      }
    });
    this.startNetwork();
    // a task (re)start can change a container's pid: re-reconcile its namespace
    this.containerd.subscribeTasks(
      (ev) => {
        if (ev.topic !== '/tasks/start') return;
        this.containerd
          .getContainer(ev.containerId)
          .then((c) => this.enqueueNamespace(c.labels[LABEL_POD_NAMESPACE]))
          .catch((e) => log.debug({ err: errorMessage(e) }, 'task event for an unknown container'));
      },
      () => this.enqueueAll(),
    );

    this.metrics.collectFrom(() => {
      const c = this.monitor.counters();
      return { watchedInodes: this.registry.inodes, dropped: c.dropped, emitted: c.emitted };
    });
    this.metricsPort = await this.metrics.listen(this.opts.metricsPort);

    const kc = await loadKubeConfig();
    const { CoreV1Api, CustomObjectsApi, makeInformer } = await k8sLib();
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    this.status = new StatusWriter(custom, this.opts.nodeName, log, () => this.metrics.apiErrors.inc({ what: 'status' }));
    const fieldSelector = `spec.nodeName=${this.opts.nodeName}`;
    const pods = new SelfRestartingInformer<k8s.V1Pod>(
      makeInformer(kc, `/api/v1/pods?fieldSelector=${encodeURIComponent(fieldSelector)}`, () =>
        core.listPodForAllNamespaces({ fieldSelector }),
      ),
      'pods',
      log,
      {
        upsert: (p) => {
          this.pods.set(p.metadata!.uid!, p);
          this.enqueueNamespace(p.metadata?.namespace);
        },
        remove: (p) => {
          this.pods.delete(p.metadata!.uid!);
          this.enqueueNamespace(p.metadata?.namespace);
        },
      },
      () => this.metrics.apiErrors.inc({ what: 'watch' }),
    );
    const traces = new SelfRestartingInformer<HiveTrace & k8s.KubernetesObject>(
      makeInformer(kc, `/apis/${GROUP}/${VERSION}/${PLURAL}`, () =>
        custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }) as Promise<k8s.KubernetesListObject<HiveTrace & k8s.KubernetesObject>>,
      ),
      'hivetraces',
      log,
      {
        upsert: (t) => {
          this.traces.set(traceKey(t), t);
          this.enqueue(traceKey(t));
        },
        remove: (t) => {
          this.traces.delete(traceKey(t));
          this.enqueue(traceKey(t));
        },
      },
      () => this.metrics.apiErrors.inc({ what: 'watch' }),
    );
    const nodes = new SelfRestartingInformer<k8s.V1Node>(
      makeInformer(kc, '/api/v1/nodes', () => core.listNode()),
      'nodes',
      log,
      {
        upsert: (n) => {
          this.nodes.set(n.metadata!.name!, n);
          this.updateClusterCidrs();
        },
        remove: (n) => {
          this.nodes.delete(n.metadata!.name!);
          this.updateClusterCidrs();
        },
      },
      () => this.metrics.apiErrors.inc({ what: 'watch' }),
    );
    this.informers = [
      pods as unknown as SelfRestartingInformer<k8s.KubernetesObject>,
      traces as unknown as SelfRestartingInformer<k8s.KubernetesObject>,
      nodes as unknown as SelfRestartingInformer<k8s.KubernetesObject>,
    ];
    await Promise.all(this.informers.map((i) => i.start()));
    // events seen change without a reconcile: report them every few seconds
    this.statusTicker = setInterval(() => {
      for (const [k, r] of this.lastReport) {
        const s = this.seen.get(k);
        if (s && s.count !== r.eventsSeen) this.report(k, { ...r });
      }
    }, 5000);
    // a safety net for containerd events missed while its stream was down
    this.resyncTicker = setInterval(() => this.enqueueAll(), 30000);
    this.resyncTicker.unref();
    this.statusTicker.unref();
    this.metrics.ready = true;
    log.info(
      { node: this.opts.nodeName, mode: monitor.mode, passedOver: reasons, metricsPort: this.metricsPort, network: this.net ? { clusterCidrs: this.net.monitor.clusterCidrs } : 'unavailable' },
      'ready',
    );
  }

  /** Loads the network monitor; without it (e.g. no TC support) file auditing still runs. */
  private startNetwork(): void {
    let monitor: NetMonitor;
    try {
      monitor = NetMonitor.open({ log });
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'network monitoring unavailable; file auditing continues');
      return;
    }
    const tracker = new InterfaceTracker(monitor, log);
    const registry = new NetworkRegistry(monitor, (addrs) => tracker.setAddresses(addrs));
    this.net = { monitor, tracker, registry };
    monitor.setClusterCidrs(this.opts.clusterCidrs ?? []);
    monitor.onEvents((events) => {
      for (const e of events) {
        const owners = registry.owners(e.key.podAddr);
        const flowKey = `${e.key.podAddr.toString('hex')}|${e.key.peerAddr.toString('hex')}|${e.key.podPort}|${e.key.peerPort}|${e.key.proto}`;
        const pod = owners[0]?.pod;
        if (pod) {
          if (e.type === EVENT_CODE.new) this.metrics.flows.inc({ namespace: pod.namespace, pod: pod.name, scope: SCOPE[e.flow.scope] ?? 'external', verdict: VERDICT[e.flow.verdict] ?? 'allowed' });
          const before = this.blockedSeen.get(flowKey) ?? 0;
          if (e.flow.blocked > before) this.metrics.blockedPackets.inc({ namespace: pod.namespace, pod: pod.name }, e.flow.blocked - before);
        }
        // a flow's last summary: forget its count (interval summaries are not the last)
        if (e.type === EVENT_CODE.summary && e.reason !== REASON_CODE.interval) this.blockedSeen.delete(flowKey);
        else if (e.flow.blocked) this.blockedSeen.set(flowKey, e.flow.blocked);
        for (const o of owners) {
          this.writer.write(toNetRecord(e, { trace: o.trace, pod: o.pod }, this.clock, monitor.interfaceName(e.ifindex), this.opts.nodeName));
        }
      }
    });
    tracker.start();
    this.metrics.collectNetwork(() => ({ podAddresses: registry.addresses, interfaces: monitor.interfaces().size, dropped: monitor.counters().dropped }));
  }

  /** Cluster addresses: configured CIDRs + every node's pod CIDRs and addresses. */
  private updateClusterCidrs(): void {
    if (!this.net) return;
    const cidrs = new Map<string, Cidr>();
    for (const c of this.opts.clusterCidrs ?? []) cidrs.set(c.text, c);
    for (const n of this.nodes.values()) {
      const ranges = [...(n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])), ...(n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address)];
      for (const r of ranges) {
        try {
          const c = parseCidr(r, `address of node ${n.metadata?.name}`);
          cidrs.set(c.text, c);
        } catch (e) {
          log.warn({ node: n.metadata?.name, err: errorMessage(e) }, 'node address skipped');
        }
      }
    }
    this.net.monitor.setClusterCidrs([...cidrs.values()]);
    log.debug({ clusterCidrs: this.net.monitor.clusterCidrs }, 'cluster CIDRs');
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    void this.drain();
  }

  private enqueueNamespace(ns: string | undefined): void {
    for (const [k, t] of this.traces) if (t.metadata.namespace === ns) this.enqueue(k);
    // traces deleted meanwhile still own entries: let them be cleaned up too
    for (const owner of this.registry?.keys() ?? []) {
      const k = owner.split('|')[0];
      if (k.startsWith(`${ns}/`)) this.enqueue(k);
    }
  }

  private enqueueAll(): void {
    for (const k of this.traces.keys()) this.enqueue(k);
  }

  /** One reconcile at a time, in arrival order; a key queued while it runs runs again after. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.size) {
        const key = this.queue.values().next().value as string;
        this.queue.delete(key);
        const end = this.metrics.reconcileSeconds.startTimer();
        try {
          await this.reconcile(key);
        } catch (e) {
          log.error({ trace: key, err: errorMessage(e) }, 'reconcile failed');
        }
        end();
      }
    } finally {
      this.draining = false;
    }
  }

  private async reconcile(key: string): Promise<void> {
    const trace = this.traces.get(key);
    const desired = new Set<string>();
    const unresolved: { pod: string; container: string; path: string; reason: string }[] = [];
    let podsMatched = 0;
    const netSelections: NetSelection[] = [];
    if (trace) {
      const [ns, name] = key.split('/');
      const access = accessMask(trace.spec.access as AccessName[] | undefined);
      const netMode = trace.spec.network?.mode ?? 'off';
      for (const pod of this.pods.values()) {
        if (pod.metadata?.namespace !== ns || pod.metadata.deletionTimestamp) continue;
        if (!matchesSelector(trace.spec.selector, pod.metadata.labels)) continue;
        podsMatched++;
        const podRef = { namespace: ns, name: pod.metadata.name!, uid: pod.metadata.uid! };
        if (netMode !== 'off') this.selectPodNetwork(pod, podRef, { namespace: ns, name }, netMode, netSelections, unresolved);
        if (!trace.spec.paths?.length) continue;
        for (const c of pod.spec?.containers ?? []) {
          if (trace.spec.containers && !trace.spec.containers.includes(c.name)) continue;
          const owner = `${key}|${podRef.uid}|${c.name}`;
          const found = await this.containerd.findPodContainer(podRef.uid, c.name);
          if (!found) {
            unresolved.push({ pod: podRef.name, container: c.name, path: '*', reason: 'container not running' });
            continue;
          }
          desired.add(owner);
          const res = await resolveInRoot(`${this.opts.hostProc}/${found.pid}/root`, trace.spec.paths, { maxMatches: this.opts.maxMatches });
          const files = [];
          for (const r of res) {
            if (r.state !== 'ok') unresolved.push({ pod: podRef.name, container: c.name, path: r.pattern, reason: r.reason ?? r.state });
            for (const f of r.files) {
              files.push({ ino: f.ino, dev: f.dev, path: f.path, access, trace: { namespace: ns, name }, pod: podRef, container: { name: c.name, id: found.container.id } });
            }
          }
          this.registry.set(owner, files);
        }
      }
    }
    for (const owner of this.registry.keys()) {
      if (owner.startsWith(`${key}|`) && !desired.has(owner)) this.registry.remove(owner);
    }
    this.net?.registry.set(key, netSelections);
    if (trace && (trace.spec.network?.mode ?? 'off') !== 'off' && !this.net) {
      unresolved.push({ pod: '*', container: '*', path: 'network', reason: 'network monitoring unavailable on this node (see the agent log)' });
    }
    const filesWatched = this.registry.countByTrace().get(key) ?? 0;
    const podAddressesMonitored = this.net?.registry.countByTrace().get(key) ?? 0;
    log.info({ trace: key, present: Boolean(trace), podsMatched, filesWatched, podAddressesMonitored, unresolved, kernelWatches: this.monitor.kernelWatchedCount() }, 'reconciled');
    if (trace) this.report(key, { podsMatched, filesWatched, podAddressesMonitored, unresolved, eventsSeen: 0 });
    else {
      this.status.forget(key);
      this.lastReport.delete(key);
      this.seen.delete(key);
    }
  }

  /** A matched pod's addresses for the network monitor; host-network pods have none of their own. */
  private selectPodNetwork(
    pod: k8s.V1Pod,
    podRef: NetSelection['pod'],
    trace: NetSelection['trace'],
    mode: string,
    out: NetSelection[],
    unresolved: NodeReport['unresolved'],
  ): void {
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

  private report(key: string, r: NodeReport): void {
    const s = this.seen.get(key);
    const full = { ...r, eventsSeen: s?.count ?? 0, lastEventTime: s?.last };
    this.lastReport.set(key, full);
    this.status.report(key, full);
  }

  /** Releases everything in reverse order; `quiet` after a failed start (the error says it all). */
  async stop(quiet = false): Promise<void> {
    this.metrics.ready = false;
    clearInterval(this.statusTicker);
    clearInterval(this.resyncTicker);
    this.status?.stop();
    this.metrics.close();
    await Promise.all(this.informers.map((i) => i.stop().catch(() => undefined)));
    this.containerd.close();
    this.net?.tracker.stop();
    const netCounters = this.net?.monitor.counters();
    this.net?.monitor.close(); // detaches from every pod veth, reports open flows
    const counters = this.monitor ? this.monitor.counters() : undefined;
    this.monitor?.close();
    this.limiter.stop();
    this.writer.flush();
    if (!quiet) log.info({ counters, netCounters }, 'stopped');
  }
}
