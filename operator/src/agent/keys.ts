// The agent's keys, typed: a trace is {namespace, name}; what one container of
// one pod watches for one trace is an owner. Their string forms are map keys
// only and are never parsed back (a name cannot hold '/', so "ns/name" is unique).
export interface TraceKey {
  namespace: string;
  name: string;
}

export interface OwnerKey {
  trace: TraceKey;
  podUid: string;
  container: string;
}

export function traceId(t: TraceKey): string {
  return `${t.namespace}/${t.name}`;
}

/** The trace key of an API object (a HiveTrace from the informer). */
export function traceKeyOf(o: { metadata?: { namespace?: string; name?: string } }): TraceKey {
  return { namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' };
}

/** The owner's key in the WatchRegistry ("ns/trace|podUid|container"). */
export function ownerId(o: OwnerKey): string {
  return `${traceId(o.trace)}|${o.podUid}|${o.container}`;
}

/** Why a trace is reconciled: its spec changed or it was deleted, a pod it
 * selects (or selected) changed, a container task started, the periodic
 * resync, the runtime's event stream came back after a gap, a retry after a failure,
 * a watched path that changed state (appeared, vanished, gained or lost files). */
export const CAUSES = ['spec', 'deleted', 'pod', 'task', 'resync', 'gap', 'retry', 'paths'] as const;
export type Cause = (typeof CAUSES)[number];
