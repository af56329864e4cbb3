// What of a Pod a trace's reconcile depends on: its labels (the selector), its
// deletion, phase and addresses, and its containers' ids and states (which
// process root to resolve in). A pod update that leaves these alone (conditions,
// probes' timestamps) is no cause to reconcile.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { allContainerStatuses } from './pod-containers';

export function podSignature(p: k8s.V1Pod): string {
  const labels = Object.entries(p.metadata?.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const ips = p.status?.podIPs?.map((i) => i.ip) ?? (p.status?.podIP ? [p.status.podIP] : []);
  // every kind: a native sidecar, an init or an ephemeral container starting is a cause too
  const containers = allContainerStatuses(p)
    .map((s) => [s.name, s.containerID ?? '', s.state?.running ? 'running' : s.state?.terminated ? 'terminated' : 'waiting'])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify([labels, Boolean(p.metadata?.deletionTimestamp), p.status?.phase ?? '', Boolean(p.spec?.hostNetwork), ips, containers]);
}
