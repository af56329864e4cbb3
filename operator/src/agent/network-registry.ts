// Which traces select which pod addresses for network monitoring. Several
// traces may select one pod: the kernel gets one entry per address with the
// union of their wishes (block-external if any asks for it), and each event
// is reported once per trace that selects the pod. set() replaces exactly
// what one trace owned, so removing a trace or a pod leaves the others be.
import { NET_FLAG } from '../netmon/layout';

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface NetSelection {
  ip: string;
  /** 16-byte form (netmon/addr.ts). */
  addr: Buffer;
  pod: PodRef;
  trace: { namespace: string; name: string };
  flags: number;
}

export interface PodTable {
  setPod(addr: Buffer, watchId: number, flags: number): void;
  removePod(addr: Buffer): boolean;
}

export class NetworkRegistry {
  private readonly byTrace = new Map<string, NetSelection[]>();
  /** address (hex) -> what the kernel has: watch id and flags */
  private readonly kernel = new Map<string, { watchId: number; flags: number; addr: Buffer }>();
  private nextId = 1;
  /** Flags held on a pod (uid) beside what its traces select, by holder: a correlation's block. */
  private readonly held = new Map<string, Map<string, number>>();

  constructor(
    private readonly table: PodTable,
    /** Told the full address list whenever it changes (the interface tracker). */
    private readonly onAddresses: (addrs: Buffer[]) => void,
  ) {}

  /** Replaces the selections of one trace (an empty list removes it). */
  set(traceKey: string, selections: NetSelection[]): void {
    if (selections.length) this.byTrace.set(traceKey, selections);
    else this.byTrace.delete(traceKey);
    this.sync();
  }

  /**
   * Adds `flags` to every address of pod `podUid` for `holder` (0 releases
   * it), whatever its traces select: e.g. block-external for that pod alone.
   * Only addresses some trace selects are in the kernel; the hold applies
   * to them as they come and go.
   */
  hold(podUid: string, holder: string, flags: number): void {
    let h = this.held.get(podUid);
    if (flags) {
      if (!h) this.held.set(podUid, (h = new Map()));
      h.set(holder, flags);
    } else if (h?.delete(holder) && h.size === 0) this.held.delete(podUid);
    this.sync();
  }

  private sync(): void {
    const want = new Map<string, { flags: number; addr: Buffer }>();
    for (const sels of this.byTrace.values()) {
      for (const s of sels) {
        const k = s.addr.toString('hex');
        const w = want.get(k) ?? { flags: 0, addr: s.addr };
        w.flags |= s.flags | NET_FLAG.monitor;
        for (const f of this.held.get(s.pod.uid)?.values() ?? []) w.flags |= f;
        want.set(k, w);
      }
    }
    let changed = false;
    for (const [k, have] of this.kernel) {
      if (want.has(k)) continue;
      this.table.removePod(have.addr);
      this.kernel.delete(k);
      changed = true;
    }
    for (const [k, w] of want) {
      const have = this.kernel.get(k);
      if (have && have.flags === w.flags) continue;
      const watchId = have?.watchId ?? this.nextId++;
      this.table.setPod(w.addr, watchId, w.flags);
      this.kernel.set(k, { watchId, flags: w.flags, addr: w.addr });
      changed ||= !have;
    }
    if (changed) this.onAddresses([...this.kernel.values()].map((v) => v.addr));
  }

  /** The selections (one per trace) an event of this pod address is reported for. */
  owners(addr: Buffer): NetSelection[] {
    const k = addr.toString('hex');
    const out: NetSelection[] = [];
    for (const sels of this.byTrace.values()) for (const s of sels) if (s.addr.toString('hex') === k) out.push(s);
    return out;
  }

  /** Addresses each trace has selected (for status). */
  countByTrace(): Map<string, number> {
    return new Map([...this.byTrace].map(([k, v]) => [k, v.length]));
  }

  get addresses(): number {
    return this.kernel.size;
  }
}
