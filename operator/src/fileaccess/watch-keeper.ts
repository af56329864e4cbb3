// The watch keeper: keeps the kernel's watched-inode map equal to "what these
// paths name now", for the CLI and the agent alike. An owner key (a `hive
// trace` run, or a trace's container) gives a target: a root ("/" for the
// host, /host/proc/<pid>/root for a container), paths and globs, an access
// mask. The keeper resolves them (resolve/pattern.ts: one meaning of paths,
// directories and globs for both), listens with inotify on every directory
// entry the resolution went through (resolve/dir-watcher.ts), and re-resolves
// a pattern when one changes: a file renamed over, unlinked and recreated, a
// symlink on the path retargeted (a ConfigMap's `..data`), a parent replaced,
// a glob gaining or losing a match, a pending path appearing. A slow periodic
// re-check is the safety net; what it catches is counted, so a missed
// notification shows. The new inode is watched before the old one is released
// (WatchRegistry adds before it removes), so a swap opens no gap.
// Keys naming the same pattern in the same root (several traces on one
// container, or one trace's paths on many keys of a pod) share one
// resolution: resolved once, listened to once, re-resolved once per change,
// and every key holding it is updated from it.
import { isDeepStrictEqual } from 'node:util';
import { Logger } from '../util/log';
import { DirWatcher, dirKey } from '../resolve/dir-watcher';
import { ANY_NAME, PatternResolution, isDir, resolvePattern } from '../resolve/pattern';
import { ACCESS } from './layout';
import type { InRootFile } from '../resolve/in-root';
import { InodeMap, Owner, WatchRegistry } from './watch-registry';
import type { Action, Enforcement } from './action';

export interface WatchTarget {
  /** "/" for host paths; the host's view of a container's root otherwise. */
  root: string;
  patterns: string[];
  access: number;
  /** What is done to those accesses (absent: audit); the monitor must be able to. */
  action?: Action;
  /** A deny or kill audited instead (see Owner.intent); only with action audit. */
  intent?: Enforcement;
  maxMatches?: number;
  /** Copied into every owner of the key's inodes (event enrichment). */
  meta?: Pick<Owner, 'trace' | 'pod' | 'container' | 'scope'>;
}

/** What made the keeper resolve a pattern again. */
export type ReresolveCause = 'notify' | 'periodic' | 'restart';

export interface PatternStatus {
  pattern: string;
  state: PatternResolution['state'];
  reason?: string;
  files: number;
  truncated?: PatternResolution['truncated'];
}

export interface KeeperOptions {
  log: Logger;
  /** The safety-net re-check of every pattern (0: none). */
  rescanMs?: number;
  /**
   * A set() of an unchanged target (a periodic reconcile) re-checks a
   * resolution only when it was last resolved at least this long ago: one
   * shared by N keys is checked once per pass, not N times (default 5000; 0:
   * every set() re-checks).
   */
  setRecheckMs?: number;
  coalesceMs?: number;
  minIntervalMs?: number;
  /** A key's patterns changed state (pending <-> watched, error) or number of files. */
  onChange?: (key: string) => void;
  /** Called once per re-resolution that changed what a pattern names. */
  onReresolved?: (cause: ReresolveCause) => void;
  /**
   * The identity of a root (the agent: a container's `<proc>/<pid>/root` is
   * its pid and start time; undefined: a root that is always itself). A
   * pattern is re-resolved only while its root's identity is the one it was
   * first resolved under: a reused pid never turns a trace's paths to another
   * process's files.
   */
  rootIdentity?: (root: string) => string | undefined;
}

/** One pattern resolved in one root, shared by every key that names it there. */
interface PatternWatch {
  /** Root, cap and pattern: what makes two keys' patterns the same one. */
  id: string;
  root: string;
  maxMatches: number | undefined;
  res: PatternResolution;
  /** When it was last resolved (Date.now()). */
  resolvedAt: number;
  /** Its root's identity when first resolved (KeeperOptions.rootIdentity). */
  rootId: string | undefined;
  /** The keys holding it (its life: the last one gone, it stops listening). */
  keys: Set<string>;
}

interface Entry {
  target: WatchTarget;
  /** Its root's identity when set (KeeperOptions.rootIdentity). */
  rootId: string | undefined;
  /** One per pattern, in the target's order (a pattern written twice: the same watch twice). */
  watches: PatternWatch[];
}

/** Same access, action and owner details: the registry's owners would be the same. */
function sameOwner(a: WatchTarget, b: WatchTarget): boolean {
  return a.access === b.access && a.action === b.action && a.intent === b.intent && isDeepStrictEqual(a.meta, b.meta);
}

const fileId = (f: InRootFile) => `${f.dev}:${f.ino}`;
const watchId = (root: string, rootId: string | undefined, maxMatches: number | undefined, pattern: string) => `${root}\0${rootId ?? ''}\0${maxMatches ?? ''}\0${pattern}`;

/** Same root, paths and limits: only the owner's details (meta, access) may differ. */
function sameWatch(a: WatchTarget, b: WatchTarget): boolean {
  return a.root === b.root && a.maxMatches === b.maxMatches && a.patterns.length === b.patterns.length && a.patterns.every((p, i) => p === b.patterns[i]);
}

/**
 * One shared Set per distinct set of names (most are one name, or any name):
 * 7,040 resolutions at node scale held ~21,000 small Sets, ~4 MiB. Counted,
 * so that names that come and go (a ConfigMap's timestamped directories) do
 * not stay. The shared sets are never changed: resolutions build their own.
 */
class NameSets {
  /** Each shared set by its sorted names, with how many resolutions hold it. */
  private readonly sets = new Map<string, { set: Set<string>; n: number }>();
  /** The id of each shared set (a few distinct ones): release does not sort again. */
  private readonly ids = new Map<Set<string>, string>();
  private static id(names: Set<string>): string {
    return [...names].sort().join('\0');
  }
  take(names: Set<string>): Set<string> {
    const id = NameSets.id(names);
    const e = this.sets.get(id);
    if (e) {
      e.n++;
      return e.set;
    }
    this.sets.set(id, { set: names, n: 1 });
    this.ids.set(names, id);
    return names;
  }
  release(names: Set<string>): void {
    const id = this.ids.get(names);
    if (id === undefined) return; // not a shared set (never taken)
    const e = this.sets.get(id);
    if (e && --e.n === 0) {
      this.sets.delete(id);
      this.ids.delete(names);
    }
  }
}

export class WatchKeeper {
  readonly registry: WatchRegistry;
  private readonly entries = new Map<string, Entry>();
  /** Every resolution some key holds, by watchId. */
  private readonly watches = new Map<string, PatternWatch>();
  private readonly byDir = new Map<string, Set<PatternWatch>>();
  /** The name sets of every held resolution's directories, one per distinct set. */
  private readonly names = new NameSets();
  private readonly dirs: DirWatcher;
  private readonly rescan: NodeJS.Timeout | undefined;
  readonly reresolved: Record<ReresolveCause, number> = { notify: 0, periodic: 0, restart: 0 };
  /** Patterns resolved, changed or not (each walk of a root). */
  private resolves = 0;
  private readonly log: Logger;

  constructor(map: InodeMap, private readonly opts: KeeperOptions) {
    this.log = opts.log;
    this.registry = new WatchRegistry(map);
    this.dirs = new DirWatcher((k, names) => this.changed(k, names), opts);
    const every = opts.rescanMs ?? 10_000;
    if (every > 0) {
      this.rescan = setInterval(() => this.recheck(), every);
      this.rescan.unref();
    }
  }

  /** Watches what `target` names now and keeps following it; replaces what `key` had. */
  set(key: string, target: WatchTarget): PatternStatus[] {
    const before = this.entries.get(key);
    // a root of another identity (a new container whose init got a pid used before) is another root
    const rootId = this.opts.rootIdentity?.(target.root);
    if (before && sameWatch(before.target, target) && before.rootId === rootId) {
      // the same paths in the same root (an agent's periodic reconcile): check them, nothing to rebuild
      const owner = sameOwner(before.target, target);
      before.target = target;
      const stale = Date.now() - (this.opts.setRecheckMs ?? 5000);
      for (const w of new Set(before.watches)) if (w.resolvedAt <= stale) this.reresolve(w, 'periodic');
      // a changed resolution was applied to every key holding it; the registry is rebuilt only
      // for new owner details or for what the kernel refused before (a full map)
      if (!owner || this.registry.refused(key)) this.apply(key);
      return this.status(key);
    }
    const restart = before !== undefined && (before.target.root !== target.root || before.rootId !== rootId);
    // the new resolutions are taken (and listened to) before the old ones are let go: shared ones stay
    const entry: Entry = { target, rootId, watches: target.patterns.map((p) => this.take(key, target.root, rootId, target.maxMatches, p)) };
    this.entries.set(key, entry);
    if (restart) {
      for (const w of entry.watches) {
        const old = before.watches.find((o) => o.res.pattern === w.res.pattern);
        if (old && this.differs(old.res, w.res)) this.logChange(key, old.res, w.res, 'restart');
      }
    }
    if (before) this.release(key, before.watches, entry.watches);
    this.apply(key);
    return this.status(key);
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.release(key, entry.watches, []);
    this.registry.remove(key);
  }

  status(key: string): PatternStatus[] {
    return (this.entries.get(key)?.watches ?? []).map((w) => ({
      pattern: w.res.pattern,
      state: w.res.state,
      reason: w.res.reason,
      files: w.res.files.length,
      ...(w.res.truncated ? { truncated: w.res.truncated } : {}),
    }));
  }

  /** The owners of a watch id that want this access (event enrichment). */
  owners(watchId: number, access: number): Owner[] {
    return this.registry.owners(watchId, access);
  }

  get counters() {
    return { ...this.dirs.counters, dirsWatched: this.dirs.size, inodes: this.registry.inodes, resolves: this.resolves, reresolved: { ...this.reresolved } };
  }

  /** Resolves every pattern again (the safety net; also callable on demand). */
  recheck(cause: ReresolveCause = 'periodic'): void {
    this.dirs.refresh();
    for (const w of [...this.watches.values()]) this.reresolve(w, cause);
    for (const key of this.entries.keys()) {
      try {
        this.apply(key); // retries what the kernel refused before (a full map), a no-op otherwise
      } catch (e) {
        this.log.error({ key, err: (e as Error).message }, 'cannot watch every path');
      }
    }
  }

  /** How many distinct resolutions the keys hold (shared ones once). */
  get resolutions(): number {
    return this.watches.size;
  }

  close(): void {
    clearInterval(this.rescan);
    this.dirs.close();
    this.byDir.clear();
  }

  /** The resolution of `pattern` in `root` for `key`: the one already held if any, resolved now otherwise. */
  private take(key: string, root: string, rootId: string | undefined, maxMatches: number | undefined, pattern: string): PatternWatch {
    const id = watchId(root, rootId, maxMatches, pattern);
    let w = this.watches.get(id);
    if (!w) {
      this.resolves++;
      w = { id, root, maxMatches, res: resolvePattern(root, pattern, { maxMatches }), resolvedAt: Date.now(), keys: new Set(), rootId };
      this.watches.set(id, w);
      this.listen(w);
    }
    w.keys.add(key);
    return w;
  }

  /** `key` no longer holds `old` (but still holds `kept`): a resolution no key holds stops listening. */
  private release(key: string, old: PatternWatch[], kept: PatternWatch[]): void {
    for (const w of new Set(old)) {
      if (kept.includes(w)) continue;
      w.keys.delete(key);
      if (w.keys.size > 0) continue;
      this.watches.delete(w.id);
      this.unlisten(w);
    }
  }

  /** Listens to the directories `w` depends on; its name sets become the shared ones (see `names`). */
  private listen(w: PatternWatch): void {
    const { root } = w;
    for (const [dir, names] of w.res.deps) {
      w.res.deps.set(dir, this.names.take(names));
      const k = dirKey(root, dir);
      let set = this.byDir.get(k);
      if (!set) {
        this.byDir.set(k, (set = new Set()));
        this.dirs.listen(root, dir);
      }
      set.add(w);
    }
  }

  private unlisten(w: PatternWatch): void {
    for (const [dir, names] of w.res.deps) {
      this.names.release(names);
      const k = dirKey(w.root, dir);
      const set = this.byDir.get(k);
      if (!set) continue;
      set.delete(w);
      if (set.size === 0) {
        this.byDir.delete(k);
        this.dirs.unlisten(w.root, dir);
      }
    }
  }

  private changed(k: string, names: Set<string>): void {
    const watches = [...(this.byDir.get(k) ?? [])];
    const dir = k.slice(k.indexOf('\0') + 1);
    for (const w of watches) {
      const wanted = w.res.deps.get(dir);
      if (!wanted) continue;
      const hit = names.has(ANY_NAME) || wanted.has(ANY_NAME) || [...names].some((n) => wanted.has(n));
      if (hit) this.reresolve(w, 'notify');
    }
  }

  private reresolve(w: PatternWatch, cause: ReresolveCause): void {
    if (this.watches.get(w.id) !== w) return; // released meanwhile
    this.resolves++;
    // the root is another process's now (its pid reused): nothing of it is the trace's
    const moved = w.rootId !== undefined && this.opts.rootIdentity?.(w.root) !== w.rootId;
    const next: PatternResolution = moved
      ? { pattern: w.res.pattern, state: 'error', files: [], deps: new Map(), reason: 'the container exited: its root is gone (its pid names another process or none)' }
      : resolvePattern(w.root, w.res.pattern, { maxMatches: w.maxMatches });
    w.resolvedAt = Date.now();
    const old = w.res;
    this.unlisten(w);
    w.res = next;
    this.listen(w);
    const filesChanged = this.differs(old, next);
    // what a status reports (state, reason, how many files) changed; a swap of one inode for another does not
    const statusChanged = old.state !== next.state || old.reason !== next.reason || old.files.length !== next.files.length;
    for (const key of [...w.keys]) {
      if (filesChanged) {
        try {
          this.apply(key);
        } catch (e) {
          // e.g. the kernel map is full: say so and keep following (the next re-check tries again)
          this.log.error({ key, path: old.pattern, err: (e as Error).message }, 'cannot watch the re-resolved path');
        }
        this.logChange(key, old, next, cause);
      }
      if (statusChanged) this.opts.onChange?.(key);
    }
  }

  private differs(a: PatternResolution, b: PatternResolution): boolean {
    if (a.files.length !== b.files.length) return true;
    return a.files.some((f, i) => fileId(f) !== fileId(b.files[i]) || f.path !== b.files[i].path);
  }

  private logChange(key: string, old: PatternResolution, next: PatternResolution, cause: ReresolveCause): void {
    this.reresolved[cause]++;
    this.opts.onReresolved?.(cause);
    const ids = (r: PatternResolution) => r.files.map((f) => `${f.ino}`);
    this.log.info(
      { key, path: old.pattern, oldIno: ids(old), newIno: ids(next), state: next.state, ...(next.reason ? { reason: next.reason } : {}), cause },
      'watch re-resolved',
    );
  }

  /** Makes the registry (and the kernel map) hold exactly the key's files now. */
  private apply(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    const { access, action, intent, meta } = entry.target;
    const what = action && action !== 'audit' ? { action } : intent ? { intent } : {};
    const files = entry.watches.flatMap((w) =>
      w.res.files.flatMap((f) => {
        // a directory is watched for its listing (read) and its changes (write): exec on a
        // directory is the search of every path lookup through it, which a deny would
        // refuse and an audit would report for files the trace never named (SECURITY-REVIEW M2)
        const a = isDir(f) ? access & ~ACCESS.exec : access;
        return a ? [{ ino: f.ino, dev: f.dev, path: f.path, access: a, ...what, ...meta }] : [];
      }),
    );
    this.registry.set(key, files);
  }
}
