// The network side of the agent: the network monitor, the tracker that attaches
// its TC programs to the selected pods' host veths, and the registry of which
// trace selects which pod address. Flow events are enriched with trace and pod
// for every trace that selects the pod, written, and counted per pod; a pod's
// series are released when the pod goes (they would grow without bound under churn).
import { Logger } from '../util/log';
import { errorMessage } from '../util/errors';
import { NetMonitor } from '../netmon/net-monitor';
import { InterfaceTracker } from '../netmon/interface-tracker';
import { EVENT_CODE, REASON_CODE, RawNetEvent, SCOPE, VERDICT } from '../netmon/layout';
import { NetEventRecord, toNetRecord } from '../netmon/net-event';
import { Cidr } from '../netmon/addr';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { NetworkRegistry } from './network-registry';
import { AgentMetrics } from './metrics';

export class NetworkPipeline {
  readonly registry: NetworkRegistry;
  private readonly tracker: InterfaceTracker;
  /** Blocked packets already counted in the metric, per flow. */
  private readonly blockedSeen = new Map<string, number>();
  /** Sees every record written (the correlator). */
  tap: ((rec: NetEventRecord) => void) | undefined;

  private constructor(
    readonly monitor: NetMonitor,
    private readonly writer: EventWriter,
    private readonly clock: Clock,
    private readonly nodeName: string,
    private readonly metrics: AgentMetrics,
    log: Logger,
  ) {
    this.tracker = new InterfaceTracker(monitor, log);
    this.registry = new NetworkRegistry(monitor, (addrs) => this.tracker.setAddresses(addrs));
  }

  /** Loads the network monitor; undefined (and a warning) where it cannot load, e.g. without TC support. */
  static open(writer: EventWriter, clock: Clock, nodeName: string, metrics: AgentMetrics, clusterCidrs: Cidr[], log: Logger, ringBufferBytes?: number): NetworkPipeline | undefined {
    let monitor: NetMonitor;
    try {
      monitor = NetMonitor.open({ log, ringBufferBytes });
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'network monitoring unavailable; file auditing continues');
      return undefined;
    }
    const p = new NetworkPipeline(monitor, writer, clock, nodeName, metrics, log);
    monitor.setClusterCidrs(clusterCidrs);
    monitor.onEvents((events) => p.handle(events));
    p.tracker.start();
    metrics.collectNetwork(() => ({ podAddresses: p.registry.addresses, interfaces: monitor.interfaces().size, dropped: monitor.counters().dropped }));
    return p;
  }

  handle(events: RawNetEvent[]): void {
    for (const e of events) {
      const owners = this.registry.owners(e.key.podAddr);
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
        const rec = toNetRecord(e, { trace: o.trace, pod: o.pod }, this.clock, this.monitor.interfaceName(e.ifindex), this.nodeName);
        this.writer.write(rec);
        this.tap?.(rec);
      }
    }
  }

  setClusterCidrs(cidrs: Cidr[]): void {
    this.monitor.setClusterCidrs(cidrs);
  }

  /** A deleted pod: its flow and blocked-packet series go. */
  releasePod(pod: { namespace: string; name: string }): void {
    this.metrics.releasePod(pod.namespace, pod.name);
  }

  counters(): ReturnType<NetMonitor['counters']> {
    return this.monitor.counters();
  }

  /** Detaches from every pod veth and reports the open flows. */
  close(): void {
    this.tracker.stop();
    this.monitor.close();
  }
}
