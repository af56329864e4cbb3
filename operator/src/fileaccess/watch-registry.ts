// Who watches which inode. Several (trace, pod, container, path) owners can
// want the same inode (two traces, or one path and a hard link to it); the
// kernel map holds one entry per inode, whose watch id names a slot here and
// whose access mask is the union of its owners' (and its deny and kill masks
// the union of the accesses owners with that action want stopped: one deny
// owner is enough to refuse the access, whoever else only audits it; its
// would-deny mask the union of what owners audit with an intent to stop).
// An owner with a scope (the agent's: its container's pid namespace) stops
// only the tasks of that scope: its stops go to the inode's entry for that
// namespace (WatchEntry.scopes), never to the inode's own masks, so another
// pod or the host reaching the same inode is reported, not stopped.
// Removing an owner removes the
// kernel entry only when the inode's last owner goes, so nothing leaks and
// nothing is dropped early.
import type { InodeRef, WatchEntry } from './monitor';
import type { Action, Enforcement } from './action';

const NO_OWNERS: Owner[] = [];

export interface Owner {
  /** The (trace, pod, container) this belongs to: "ns/trace|podUid|container". */
  key: string;
  path: string;
  /** Other paths of this key that are the same inode (hard links): one event, not two. */
  aliases?: string[];
  access: number;
  /** What the owner wants done to those accesses (absent: audit). */
  action?: Action;
  /**
   * A deny or kill this owner wants but audits (rolled out audit first, the
   * node's kill switch, or a mode that cannot): the kernel reports those
   * accesses would-deny where it would have stopped them (exemptions apply),
   * and this owner's events say so; another owner's say allowed.
   */
  intent?: Enforcement;
  /** Absent in `hive trace` (no Kubernetes). */
  trace?: { namespace: string; name: string };
  pod?: { namespace: string; name: string; uid: string };
  container?: { name: string; id: string };
  /**
   * The pid namespace (inode number) whose tasks this owner's action or
   * intent applies to; absent: every task (`hive trace` on host paths).
   */
  scope?: number;
}

/** What the registry needs of the BPF side (FileAccessMonitor has it). */
export interface InodeMap {
  watch(entries: WatchEntry[]): void;
  unwatch(refs: InodeRef[]): number;
}

/** One watched inode; its own ino and dev (an InodeRef itself: no separate ref object per inode). */
interface Slot extends InodeRef {
  id: number;
  owners: Owner[];
  /**
   * What the kernel entry holds now, packed by packMasks, with its scopes'
   * (a string then: scopes are few, most inodes have none or one); -1 when
   * nothing: refused, or not written yet.
   */
  masks: number | string;
}

interface Stops {
  deny: number;
  kill: number;
  would: number;
}

/** The kernel entry's masks for these owners: the inode's own (unscoped owners) and each scope's. */
function masksOf(owners: Owner[]): Stops & { access: number; scopes: Map<number, Stops> | undefined } {
  const m = { access: 0, deny: 0, kill: 0, would: 0, scopes: undefined as Map<number, Stops> | undefined };
  for (const o of owners) {
    m.access |= o.access;
    if (!o.action && !o.intent) continue;
    let into: Stops = m;
    if (o.scope !== undefined) {
      m.scopes ??= new Map();
      const sc = m.scopes.get(o.scope) ?? { deny: 0, kill: 0, would: 0 };
      m.scopes.set(o.scope, sc);
      into = sc;
    }
    if (o.action === 'deny') into.deny |= o.access;
    else if (o.action === 'kill') into.kill |= o.access;
    else if (o.intent) into.would |= o.access;
  }
  return m;
}

/**
 * The owners that are not `key`'s, in an array of exactly their number (filter
 * and push leave room for 16 more: 150 B per inode at node scale), allocated
 * once; the same array when `key` owns none of them.
 */
function withoutKey(owners: Owner[], key: string): Owner[] {
  let n = 0;
  for (const o of owners) if (o.key !== key) n++;
  if (n === owners.length) return owners;
  const out = new Array<Owner>(n);
  let i = 0;
  for (const o of owners) if (o.key !== key) out[i++] = o;
  return out;
}

/** The four 3-bit masks in one small integer: a number per slot, not a string per inode. */
const packMasks = (m: { access: number; deny: number; kill: number; would: number }) => m.access | (m.deny << 3) | (m.kill << 6) | (m.would << 9);

/** packMasks with the scopes' masks, when there are scopes. */
function signature(m: ReturnType<typeof masksOf>): number | string {
  const own = packMasks(m);
  if (!m.scopes) return own;
  return `${own} ${[...m.scopes].sort(([a], [b]) => a - b).map(([ns, sc]) => `${ns}:${packMasks({ access: 0, ...sc })}`).join(' ')}`;
}

export class WatchRegistry {
  private readonly byInode = new Map<string, Slot>();
  private readonly byId = new Map<number, Slot>();
  /** Each key's slots (an exact-size array: a Set per key cost ~200 B more, 11,000 keys at node scale). */
  private readonly byKey = new Map<string, Slot[]>();
  /** Files watched per trace ("ns/name"), kept as keys change: a reconcile asks for its trace's. */
  private readonly perTrace = new Map<string, number>();
  /** The trace of each key that has one (its files all share it). */
  private readonly keyTrace = new Map<string, string>();
  private nextId = 1;

  constructor(private readonly map: InodeMap) {}

  private static k(r: InodeRef): string {
    return `${r.dev}:${r.ino}`;
  }

  /** Replaces everything `key` owned by `files` (computing the kernel changes). */
  set(key: string, files: (InodeRef & Omit<Owner, 'key'>)[]): void {
    const had = this.byKey.get(key)?.length ?? 0;
    const touched = new Set<Slot>();
    for (const slot of this.byKey.get(key) ?? []) {
      slot.owners = withoutKey(slot.owners, key);
      touched.add(slot);
    }
    this.byKey.delete(key);
    const mine = new Set<Slot>();
    for (const f of files) {
      const ik = WatchRegistry.k(f);
      let slot = this.byInode.get(ik);
      if (!slot) {
        slot = { id: this.nextId++, ino: f.ino, dev: f.dev, owners: [], masks: -1 };
        this.byInode.set(ik, slot);
        this.byId.set(slot.id, slot);
      }
      const same = slot.owners.find((o) => o.key === key);
      if (same) (same.aliases ??= []).push(f.path);
      else slot.owners = slot.owners.concat({ key, path: f.path, access: f.access, action: f.action, intent: f.intent, trace: f.trace, pod: f.pod, container: f.container, scope: f.scope });
      mine.add(slot);
      touched.add(slot);
    }
    if (mine.size) this.byKey.set(key, [...mine]);
    this.recount(key, files[0]?.trace, had, mine.size);
    const add: WatchEntry[] = [];
    const remove: InodeRef[] = [];
    for (const slot of touched) {
      const m = masksOf(slot.owners);
      const masks = slot.owners.length ? signature(m) : -1;
      if (slot.owners.length === 0) {
        remove.push(slot);
        this.byInode.delete(WatchRegistry.k(slot));
        this.byId.delete(slot.id);
      } else if (masks !== slot.masks) {
        // one literal of one shape: spreads of optional parts gave every entry its own hidden
        // class (~17 MiB of maps at 65,536 inodes while the monitor kept the entries)
        const scopes = m.scopes ? [...m.scopes].map(([pidNs, sc]) => ({ pidNs, ...sc })) : undefined;
        add.push({ ino: slot.ino, dev: slot.dev, watchId: slot.id, access: m.access, deny: m.deny, kill: m.kill, would: m.would, scopes });
      }
      slot.masks = masks;
    }
    // new inodes first: a file swapped for another is never unwatched in between
    let failed: unknown;
    if (add.length) {
      try {
        this.map.watch(add);
      } catch (e) {
        // not in the kernel (e.g. the map is full): a later set() of this key tries them again
        for (const a of add) {
          const slot = this.byId.get(a.watchId);
          if (slot) slot.masks = -1;
        }
        failed = e;
      }
    }
    // what no owner wants goes whatever happened above: the kernel keeps no stale entry
    if (remove.length) this.map.unwatch(remove);
    if (failed) throw failed;
  }

  remove(key: string): void {
    this.set(key, []);
  }

  /** Keys (trace|pod|container) currently owning something. */
  keys(): string[] {
    return [...this.byKey.keys()];
  }

  /** The owners of a watch id that want this access (maybe the registry's own list: read it, do not change it). */
  owners(watchId: number, access: number): Owner[] {
    const all = this.byId.get(watchId)?.owners ?? NO_OWNERS;
    // usually every owner wants the access: the list itself, no copy per event
    return all.every((o) => (o.access & access) !== 0) ? all : all.filter((o) => (o.access & access) !== 0);
  }

  /** Whether some inode of `key` is not in the kernel as its owners want (a write was refused). */
  refused(key: string): boolean {
    return (this.byKey.get(key) ?? []).some((s) => s.masks === -1);
  }

  get inodes(): number {
    return this.byInode.size;
  }

  /** The key owned `had` files and now `n` (of `trace`, when it has one): the per-trace count follows. */
  private recount(key: string, trace: Owner['trace'], had: number, n: number): void {
    const before = this.keyTrace.get(key);
    if (before !== undefined) {
      const left = (this.perTrace.get(before) ?? 0) - had;
      if (left > 0) this.perTrace.set(before, left);
      else this.perTrace.delete(before);
    }
    const t = trace ? `${trace.namespace}/${trace.name}` : before;
    if (n === 0 || t === undefined) {
      this.keyTrace.delete(key);
      return;
    }
    this.keyTrace.set(key, t);
    this.perTrace.set(t, (this.perTrace.get(t) ?? 0) + n);
  }

  /** Files watched by a trace ("ns/name"): one per (owner key, inode). */
  filesOf(trace: string): number {
    return this.perTrace.get(trace) ?? 0;
  }

  /** Files watched per trace key ("ns/name"). */
  countByTrace(): Map<string, number> {
    return new Map(this.perTrace);
  }
}
