// The agent's Prometheus metrics and its health endpoints, on one HTTP port:
// /metrics, /healthz (the process answers), /readyz (programs attached and
// informers started).
import http from 'node:http';
import client from 'prom-client';
import { ACCESS_NAMES, VERDICT_CODE, Verdict } from '../fileaccess/layout';
import { SCOPE, VERDICT } from '../netmon/layout';
import { CAUSES } from './keys';

const FILE_VERDICTS = Object.keys(VERDICT_CODE) as Verdict[];

export class AgentMetrics {
  readonly registry = new client.Registry();
  readonly events = new client.Counter({ name: 'hive_events_total', help: 'File accesses reported, by trace, access and verdict (allowed, denied, killed, would-deny)', labelNames: ['trace', 'access', 'verdict'], registers: [this.registry] });
  readonly reconcileSeconds = new client.Histogram({ name: 'hive_reconcile_duration_seconds', help: 'Time one reconcile of a HiveTrace took', buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10], registers: [this.registry] });
  readonly reconciles = new client.Counter({ name: 'hive_reconcile_total', help: 'Reconciles of a HiveTrace, by the first cause it was queued for', labelNames: ['trace', 'cause'], registers: [this.registry] });
  readonly reconcileErrors = new client.Counter({ name: 'hive_reconcile_errors_total', help: 'Reconciles that failed (retried with backoff)', labelNames: ['trace'], registers: [this.registry] });
  readonly statusWrites = new client.Counter({ name: 'hive_status_writes_total', help: "Writes of this node's entry in a HiveTrace's status", labelNames: ['trace'], registers: [this.registry] });
  readonly watchReresolved = new client.Counter({ name: 'hive_watch_reresolved_total', help: 'Watched paths that came to name other inodes and were re-resolved, by what noticed it (notify, periodic, restart)', labelNames: ['cause'], registers: [this.registry] });
  readonly apiErrors = new client.Counter({ name: 'hive_api_errors_total', help: 'Kubernetes API errors (watch restarts, failed status writes)', labelNames: ['what'], registers: [this.registry] });
  readonly flows = new client.Counter({ name: 'hive_network_flows_total', help: 'Network flows seen, by pod, scope and verdict of their first packet', labelNames: ['namespace', 'pod', 'scope', 'verdict'], registers: [this.registry] });
  readonly blockedPackets = new client.Counter({ name: 'hive_network_blocked_packets_total', help: 'Packets dropped by block-external, by pod', labelNames: ['namespace', 'pod'], registers: [this.registry] });
  readonly alerts = new client.Counter({ name: 'hive_alerts_total', help: 'Correlation alerts (kind "alert"), by trace and alert (read-then-egress)', labelNames: ['trace', 'alert'], registers: [this.registry] });
  readonly egressBlocks = new client.Counter({ name: 'hive_egress_blocks_total', help: "Pods whose external egress a trace's correlate.block started blocking", labelNames: ['trace'], registers: [this.registry] });
  private server: http.Server | undefined;
  ready = false;

  /** Gauges read when scraped: watched inodes and the kernel's counters. */
  collectFrom(read: () => { watchedInodes: number; dropped: number; emitted: number; lost: number; aggregated: number; aggFull: number; pipelineErrors: number }): void {
    new client.Gauge({ name: 'hive_pipeline_errors', help: 'Event batches lost because their decoding or handling threw (file and network; each is logged with its cause)', registers: [this.registry], collect() { this.set(read().pipelineErrors); } });
    new client.Gauge({ name: 'hive_watched_inodes', help: 'Inodes in the kernel watch map', registers: [this.registry], collect() { this.set(read().watchedInodes); } });
    new client.Gauge({ name: 'hive_events_dropped', help: 'Events lost because the ring buffer was full (kernel counter)', registers: [this.registry], collect() { this.set(read().dropped); } });
    new client.Gauge({ name: 'hive_events_emitted', help: 'Events written to the ring buffer (kernel counter)', registers: [this.registry], collect() { this.set(read().emitted); } });
    // storms: what the kernel folded, and every access lost with a dropped record (a folded one counts all it stood for)
    new client.Gauge({ name: 'hive_events_lost_accesses', help: 'File accesses lost with the records the full ring buffer dropped; a dropped aggregate counts every access it stood for (kernel counter)', registers: [this.registry], collect() { this.set(read().lost); } });
    new client.Gauge({ name: 'hive_events_aggregated', help: 'Repeated accesses the kernel folded into aggregate records (count) instead of one record each (kernel counter)', registers: [this.registry], collect() { this.set(read().aggregated); } });
    new client.Gauge({ name: 'hive_events_aggregate_full', help: 'Accesses reported one by one because the kernel aggregate map was full (nothing lost; kernel counter)', registers: [this.registry], collect() { this.set(read().aggFull); } });
  }

  /** The watch keeper's figures, read when scraped: what it listens to and how much it hears. */
  collectWatches(read: () => { dirsWatched: number; notifications: number; coalesced: number; unsafe: number }): void {
    new client.Gauge({ name: 'hive_watch_directories', help: 'Directories listened to (inotify) so watched paths follow their files', registers: [this.registry], collect() { this.set(read().dirsWatched); } });
    new client.Gauge({ name: 'hive_watch_notifications', help: 'Directory notifications received (creates, deletes, renames) since start', registers: [this.registry], collect() { this.set(read().notifications); } });
    new client.Gauge({ name: 'hive_watch_notifications_coalesced', help: 'Notifications merged into a re-resolution already pending (bounded work under churn)', registers: [this.registry], collect() { this.set(read().coalesced); } });
    new client.Gauge({ name: 'hive_watch_unsafe_directories', help: 'Directory watches not placed because the host path did not lead to the directory inside the container root', registers: [this.registry], collect() { this.set(read().unsafe); } });
  }

  /** Gauges of the network monitor, read when scraped. */
  collectNetwork(read: () => { podAddresses: number; interfaces: number; dropped: number }): void {
    new client.Gauge({ name: 'hive_network_pod_addresses', help: 'Pod addresses whose traffic is monitored', registers: [this.registry], collect() { this.set(read().podAddresses); } });
    new client.Gauge({ name: 'hive_network_interfaces', help: 'Host-side pod interfaces with the TC programs attached', registers: [this.registry], collect() { this.set(read().interfaces); } });
    new client.Gauge({ name: 'hive_network_events_dropped', help: 'Network events lost because the ring buffer was full (kernel counter)', registers: [this.registry], collect() { this.set(read().dropped); } });
  }

  /** Pods with external egress blocked by a correlation now, read when scraped. */
  collectBlocks(read: () => number): void {
    new client.Gauge({ name: 'hive_egress_blocked_pods', help: 'Pods whose external egress a correlation alert blocks now', registers: [this.registry], collect() { this.set(read()); } });
  }

  /** Drops a deleted trace's series (trace is "ns/name"). */
  releaseTrace(trace: string): void {
    for (const access of ACCESS_NAMES) for (const verdict of FILE_VERDICTS) this.events.remove({ trace, access, verdict });
    for (const cause of CAUSES) this.reconciles.remove({ trace, cause });
    this.reconcileErrors.remove({ trace });
    this.statusWrites.remove({ trace });
    this.alerts.remove({ trace, alert: 'read-then-egress' });
    this.egressBlocks.remove({ trace });
  }

  /** Drops a deleted pod's series. */
  releasePod(namespace: string, pod: string): void {
    for (const scope of Object.values(SCOPE)) {
      for (const verdict of Object.values(VERDICT)) this.flows.remove({ namespace, pod, scope, verdict });
    }
    this.blockedPackets.remove({ namespace, pod });
  }

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    this.server = http.createServer((req, res) => {
      if (req.url === '/metrics') {
        this.registry.metrics().then(
          (m) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(m),
          (e: Error) => res.writeHead(500).end(e.message),
        );
      } else if (req.url === '/healthz') res.writeHead(200).end('ok');
      else if (req.url === '/readyz') res.writeHead(this.ready ? 200 : 503).end(this.ready ? 'ok' : 'not ready');
      else res.writeHead(404).end();
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve((this.server!.address() as { port: number }).port));
    });
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }
}
