// `hive netmon --pod-ip IP...`: monitor pods' network flows without
// Kubernetes. The pod addresses are selected in the kernel, the interfaces
// carrying them found from the routing table (and re-found every 2 s, so a
// pod started later is picked up), and every flow event printed.
import { log as rootLog } from '../util/log';
import { NetmonOptions } from './args';
import { NetMonitor } from '../netmon/net-monitor';
import { InterfaceTracker } from '../netmon/interface-tracker';
import { NET_FLAG } from '../netmon/layout';
import { prettyNetLine, toNetRecord } from '../netmon/net-event';
import { Clock } from '../output/clock';
import { EventWriter } from '../output/event-writer';
import { watchDrops } from '../output/drop-watch';

const log = rootLog.child({ module: 'netmon' });

export async function runNetmon(opts: NetmonOptions): Promise<number> {
  const monitor = NetMonitor.open({
    summaryIntervalMs: opts.summaryIntervalMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    maxFlows: opts.maxFlows,
    log,
  });
  const flags = NET_FLAG.monitor | (opts.blockExternal ? NET_FLAG.blockExternal : 0);
  const writer = new EventWriter(opts.pretty ? prettyNetLine : undefined);
  const clock = new Clock();
  let tracker: InterfaceTracker;
  try {
    monitor.setClusterCidrs(opts.clusterCidrs);
    opts.podIps.forEach((p, i) => monitor.setPod(p.addr, i + 1, flags));
    monitor.onEvents((events) => {
      for (const e of events) writer.write(toNetRecord(e, undefined, clock, monitor.interfaceName(e.ifindex)));
    });
    tracker = new InterfaceTracker(monitor, log);
    const first = tracker.setAddresses(opts.podIps.map((p) => p.addr));
    tracker.start();
    log.info(
      {
        podIps: opts.podIps.map((p) => p.text),
        clusterCidrs: monitor.clusterCidrs,
        blockExternal: opts.blockExternal,
        interfaces: [...monitor.interfaces().values()],
        unrouted: first.unrouted,
      },
      'ready',
    );
  } catch (e) {
    monitor.close();
    throw e;
  }

  const dropCheck = watchDrops(() => monitor.counters().dropped, log);

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      clearInterval(dropCheck);
      tracker.stop();
      const counters = monitor.counters();
      monitor.close(); // detaches, then reports the flows still open
      writer.flush();
      log.info({ signal, counters, events: writer.written }, 'stopped');
      resolve(0);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
