// Every container of a pod a trace can watch, by kind, with its status: the
// pod's containers; its init containers, among them native sidecars
// (restartPolicy: Always, running beside the containers); and its ephemeral
// containers (kubectl debug). SECURITY-REVIEW L2: only spec.containers were
// resolved, and Ready said True.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

export type ContainerKind = 'container' | 'sidecar' | 'init' | 'ephemeral';

export interface PodContainer {
  name: string;
  kind: ContainerKind;
  image?: string;
  status?: k8s.V1ContainerStatus;
}

/** Every status the kubelet reports for the pod's containers, of all kinds. */
export function allContainerStatuses(pod: k8s.V1Pod): k8s.V1ContainerStatus[] {
  const s = pod.status;
  return [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? []), ...(s?.ephemeralContainerStatuses ?? [])];
}

/** The pod's containers of every kind, in the pod's order: init containers, containers, ephemeral ones. */
export function podContainers(pod: k8s.V1Pod): PodContainer[] {
  const statusOf = (list: k8s.V1ContainerStatus[] | undefined, name: string) => list?.find((x) => x.name === name);
  const st = pod.status;
  return [
    ...(pod.spec?.initContainers ?? []).map((c) => ({ name: c.name, kind: (c.restartPolicy === 'Always' ? 'sidecar' : 'init') as ContainerKind, image: c.image, status: statusOf(st?.initContainerStatuses, c.name) })),
    ...(pod.spec?.containers ?? []).map((c) => ({ name: c.name, kind: 'container' as ContainerKind, image: c.image, status: statusOf(st?.containerStatuses, c.name) })),
    ...(pod.spec?.ephemeralContainers ?? []).map((c) => ({ name: c.name, kind: 'ephemeral' as ContainerKind, image: c.image, status: statusOf(st?.ephemeralContainerStatuses, c.name) })),
  ];
}

/**
 * Whether a trace resolves this container now. Containers and native sidecars
 * always (one that does not run is reported unresolved); init and ephemeral
 * containers while they run: one that finished can access nothing any more,
 * and one that has not started is resolved when its start changes the pod's
 * status (the accesses of its first moments race with that, as for any
 * container's).
 */
export function resolvedNow(c: PodContainer): boolean {
  if (c.kind === 'container' || c.kind === 'sidecar') return true;
  return c.status?.state?.running !== undefined;
}
