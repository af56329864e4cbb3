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
/** Pid namespaces whose pod is kept (a node runs at most a few hundred containers). */
const MAX_NS = 4096;
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
  /** Pid namespace -> the pod its processes' cgroup named (pods no trace watches). */
  private readonly byNs = new Map<number, Accessor>();
  private hostNs: number | undefined;

  constructor(private readonly o: AccessorOptions) {}

  /** A watched container's pid namespace is `ns` (undefined: it is no longer watched). */
  scope(ns: number, pod: PodRef | undefined): void {
    if (pod) this.scopes.set(ns, pod);
    else this.scopes.delete(ns);
    this.byNs.delete(ns); // a namespace number is reused once its namespace is gone
  }

  /** A pod left the node: the namespaces its processes were in are no longer its (their numbers are reused). */
  podGone(uid: string): void {
    for (const [ns, a] of this.byNs) if (a.pod?.uid === uid) this.byNs.delete(ns);
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
    const cgroup = this.cgroupOf(tgid);
    const uid = cgroup !== undefined ? podUidOfCgroup(cgroup) : undefined;
    if (uid) return this.podAccessor(uid, pidNs);
    if (pidNs === undefined) return cgroup !== undefined ? (cgroup.includes('kubepods') ? CONTAINER : undefined) : undefined;
    this.hostNs ??= hostPidNamespace(this.o.hostProc);
    if (pidNs === this.hostNs) return HOST;
    // gone already (a cat is quicker than its event): another process of its pid namespace
    // tells the pod, its container's init above all, which lives as long as the container
    const known = this.byNs.get(pidNs);
    if (known) return known;
    const sibling = this.cgroupOf(this.memberOf(pidNs));
    const sUid = sibling !== undefined ? podUidOfCgroup(sibling) : undefined;
    return sUid ? this.podAccessor(sUid, pidNs) : CONTAINER;
  }

  /** The pod of `uid` as an accessor, kept for its pid namespace (not the host's). */
  private podAccessor(uid: string, pidNs: number | undefined): Accessor {
    const ref = this.o.podByUid(uid);
    const a: Accessor = { kind: 'pod', pod: ref ?? { namespace: '', name: '', uid } };
    if (ref && pidNs !== undefined && pidNs !== (this.hostNs ??= hostPidNamespace(this.o.hostProc))) {
      if (this.byNs.size >= MAX_NS) this.byNs.clear();
      this.byNs.set(pidNs, a);
    }
    return a;
  }

  private cgroupOf(pid: number | undefined): string | undefined {
    if (pid === undefined) return undefined;
    try {
      return fs.readFileSync(`${this.o.hostProc}/${pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
  }

  /** A live process in the pid namespace `ns` (one pass over the host's processes), if any. */
  private memberOf(ns: number): number | undefined {
    const want = `pid:[${ns}]`;
    let pids: string[];
    try {
      pids = fs.readdirSync(this.o.hostProc).filter((n) => /^\d+$/.test(n));
    } catch {
      return undefined;
    }
    for (const p of pids) {
      try {
        if (fs.readlinkSync(`${this.o.hostProc}/${p}/ns/pid`) === want) return Number(p);
      } catch {
        // gone, or not readable
      }
    }
    return undefined;
  }
}

/** The pod with this uid in a list of pods (the node's informer cache), as an accessor names it. */
export function podRefByUid(pods: readonly { metadata?: { uid?: string; name?: string; namespace?: string } }[], uid: string): PodRef | undefined {
  const p = pods.find((x) => x.metadata?.uid === uid);
  return p ? { namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '', uid } : undefined;
}
