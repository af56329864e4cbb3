// Who made an access (SECURITY-REVIEW M8): the pod the trace watches, another
// pod of the node, the node itself (the kubelet, the runtime, a host
// process), or a container the node cannot name. Told from what a process
// cannot change: the scope the kernel matched (its pod's pid namespace,
// bpf/fileaccess.bpf.c scope_of), its own pid namespace, and the pod uid in
// its cgroup path; never from its name or its executable's path. Resolved
// once per process record (the lineage the ring buffer gave it) and cached.
import fs from 'node:fs';
import type { Lineage } from '../bpf/proc-record';
import type { PodRef } from './network-registry';
import { hostPidNamespace } from './pid-namespace';

export type AccessorKind = 'pod' | 'host' | 'container';

export interface Accessor {
  kind: AccessorKind;
  /** kind pod: which (uid first: an event's own pod is told by it). */
  pod?: PodRef;
}

export interface AccessorOptions {
  hostProc: string;
  /** The node's pod with this uid (the informer's cache), if any. */
  podByUid: (uid: string) => PodRef | undefined;
}

const HOST: Accessor = { kind: 'host' };
const CONTAINER: Accessor = { kind: 'container' };
// kubepods/besteffort/pod<uid>/<id> (cgroupfs driver), kubepods-besteffort-pod<uid_with_underscores>.slice (systemd)
const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/;

/** The pod uid in a /proc/<pid>/cgroup text, undefined when the process is in no pod's cgroup. */
export function podUidOfCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (!line.includes('kubepods')) continue;
    const m = POD_UID.exec(line);
    if (m) return m[1].replace(/_/g, '-');
  }
  return undefined;
}

export class Accessors {
  /** Pid namespace -> the pod container whose init is in it (the reconciler's scopes). */
  private readonly scopes = new Map<number, PodRef>();
  private readonly byLineage = new WeakMap<Lineage, Accessor>();
  private hostNs: number | undefined;

  constructor(private readonly o: AccessorOptions) {}

  /** A watched container's pid namespace is `ns` (undefined: it is no longer watched). */
  scope(ns: number, pod: PodRef | undefined): void {
    if (pod) this.scopes.set(ns, pod);
    else this.scopes.delete(ns);
  }

  /**
   * The accessor of a record: its process (tgid, the lineage of its record
   * when the ring buffer had one) and the scope the kernel matched (0: none).
   */
  of(tgid: number, lineage: Lineage | undefined, scopeNs: number): Accessor | undefined {
    if (scopeNs) {
      const pod = this.scopes.get(scopeNs);
      if (pod) return { kind: 'pod', pod };
    }
    if (!lineage) return this.resolve(tgid, undefined);
    let a = this.byLineage.get(lineage);
    if (!a) {
      a = this.resolve(tgid, lineage.pidNs);
      if (a) this.byLineage.set(lineage, a);
    }
    return a;
  }

  private resolve(tgid: number, pidNs: number | undefined): Accessor | undefined {
    const pod = pidNs !== undefined ? this.scopes.get(pidNs) : undefined;
    if (pod) return { kind: 'pod', pod };
    // a pod's process by its cgroup (hostPID pods' included), read while it lives
    let cgroup: string | undefined;
    try {
      cgroup = fs.readFileSync(`${this.o.hostProc}/${tgid}/cgroup`, 'utf8');
    } catch {
      cgroup = undefined; // gone already
    }
    const uid = cgroup !== undefined ? podUidOfCgroup(cgroup) : undefined;
    if (uid) {
      const ref = this.o.podByUid(uid);
      return { kind: 'pod', pod: ref ?? { namespace: '', name: '', uid } };
    }
    if (pidNs === undefined) return cgroup !== undefined ? (cgroup.includes('kubepods') ? CONTAINER : undefined) : undefined;
    this.hostNs ??= hostPidNamespace(this.o.hostProc);
    if (pidNs === this.hostNs) return HOST;
    return CONTAINER;
  }
}

/** The pod with this uid in a list of pods (the node's informer cache), as an accessor names it. */
export function podRefByUid(pods: readonly { metadata?: { uid?: string; name?: string; namespace?: string } }[], uid: string): PodRef | undefined {
  const p = pods.find((x) => x.metadata?.uid === uid);
  return p ? { namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '', uid } : undefined;
}
