// Each node's agent writes its own entry of a HiveTrace's status.nodes with
// server-side apply under a field manager of its own ("hive-agent/<node>"):
// status.nodes is a list-map keyed by node, so two agents own disjoint entries
// and cannot clobber each other. Writes are throttled per trace.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { Logger } from '../util/log';
import { errorMessage } from '../util/errors';
import { GROUP, KIND, PLURAL, VERSION } from '../kube/hivetrace-schema';
import { k8sLib } from '../kube/client';

export interface NodeReport {
  podsMatched: number;
  filesWatched: number;
  /** Pod addresses whose traffic is monitored (0 when network mode is off). */
  podAddressesMonitored?: number;
  unresolved: { pod: string; container: string; path: string; reason: string }[];
  eventsSeen: number;
  lastEventTime?: string;
}

export class StatusWriter {
  private readonly last = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Map<string, NodeReport>();

  constructor(
    private readonly custom: k8s.CustomObjectsApi,
    private readonly node: string,
    private readonly log: Logger,
    private readonly onError: () => void = () => {},
    private readonly minIntervalMs = 2000,
  ) {}

  /** Schedules a write of this node's entry for trace "ns/name" (at most one per interval). */
  report(traceKey: string, r: NodeReport): void {
    this.pending.set(traceKey, r);
    if (this.timers.has(traceKey)) return;
    const wait = Math.max(0, (this.last.get(traceKey) ?? 0) + this.minIntervalMs - Date.now());
    this.timers.set(
      traceKey,
      setTimeout(() => {
        this.timers.delete(traceKey);
        void this.write(traceKey);
      }, wait),
    );
  }

  forget(traceKey: string): void {
    clearTimeout(this.timers.get(traceKey));
    this.timers.delete(traceKey);
    this.pending.delete(traceKey);
    this.last.delete(traceKey);
  }

  private async write(traceKey: string): Promise<void> {
    const r = this.pending.get(traceKey);
    if (!r) return;
    this.pending.delete(traceKey);
    this.last.set(traceKey, Date.now());
    const [namespace, name] = traceKey.split('/');
    const now = new Date().toISOString();
    const ready = r.unresolved.length === 0;
    const body = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: KIND,
      metadata: { name, namespace },
      status: {
        nodes: [
          {
            node: this.node,
            podsMatched: r.podsMatched,
            filesWatched: r.filesWatched,
            ...(r.podAddressesMonitored !== undefined ? { podAddressesMonitored: r.podAddressesMonitored } : {}),
            unresolved: r.unresolved,
            eventsSeen: r.eventsSeen,
            ...(r.lastEventTime ? { lastEventTime: r.lastEventTime } : {}),
            updated: now,
            conditions: [
              {
                type: 'Ready',
                status: ready ? 'True' : 'False',
                reason: ready ? 'Watching' : 'Unresolved',
                message: ready
                  ? `${r.filesWatched} file(s) watched` +
                    (r.podAddressesMonitored ? `, ${r.podAddressesMonitored} pod address(es) monitored` : '') +
                    ` in ${r.podsMatched} pod(s)`
                  : `${r.unresolved.length} path(s) or container(s) not resolved: ${r.unresolved
                      .slice(0, 3)
                      .map((u) => `${u.pod}/${u.container} ${u.path}: ${u.reason}`)
                      .join('; ')}`,
                lastTransitionTime: now,
              },
            ],
          },
        ],
      },
    };
    try {
      const { setHeaderOptions, PatchStrategy } = await k8sLib();
      await this.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body, fieldManager: `hive-agent/${this.node}`, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
    } catch (e) {
      // e.g. a trace deleted meanwhile: nothing to report on
      this.onError();
      this.log.debug({ trace: traceKey, err: errorMessage(e) }, 'status write failed');
    }
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
