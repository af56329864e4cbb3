// Notifications of namespace changes in directories (entries created,
// removed, renamed over), through inotify (Node's fs.watch). Why inotify: it
// works in every attach mode (the tracepoint fallback sees no renames), on
// any filesystem the kernel notifies for, and inside a container's mount
// namespace through /host/proc/<pid>/root, with no kernel-side changes.
// Content and attribute changes ("change") are ignored: they never change
// which inode a path names.
//
// Bounded work: notifications are coalesced per directory (one callback per
// burst, `coalesceMs`) and each directory fires at most once per
// `minIntervalMs`, so a directory churning thousands of entries a second costs
// a bounded number of re-resolutions; merged notifications are counted.
import fs from 'node:fs';
import path from 'node:path';
import { Logger } from '../util/log';
import { native } from '../sys/addon';
import { hostPath } from './traverse';
import { ANY_NAME } from './pattern';

export interface DirWatcherOptions {
  log: Logger;
  coalesceMs?: number;
  minIntervalMs?: number;
}

export interface DirWatcherCounters {
  /** inotify notifications received (namespace changes only). */
  notifications: number;
  /** Notifications merged into a callback already pending. */
  coalesced: number;
  /** Directories that could not be watched (gone, no permission, inotify limit). */
  watchErrors: number;
  /** Directories whose host path did not lead to the directory inside the root (a swap race): not watched. */
  unsafe: number;
}

interface Dir {
  root: string;
  dir: string;
  refs: number;
  watcher?: fs.FSWatcher;
  /** Identity when the watch was placed: a replaced directory needs a new watch. */
  ino?: bigint;
  dev?: bigint;
  names: Set<string>;
  timer?: NodeJS.Timeout;
  lastFire: number;
}

export const dirKey = (root: string, dir: string) => `${root}\0${dir}`;

export class DirWatcher {
  private readonly dirs = new Map<string, Dir>();
  readonly counters: DirWatcherCounters = { notifications: 0, coalesced: 0, watchErrors: 0, unsafe: 0 };
  private readonly coalesceMs: number;
  private readonly minIntervalMs: number;
  private closed = false;

  constructor(
    private readonly onChange: (key: string, names: Set<string>) => void,
    private readonly opts: DirWatcherOptions,
  ) {
    this.coalesceMs = opts.coalesceMs ?? 5;
    this.minIntervalMs = opts.minIntervalMs ?? 50;
  }

  get size(): number {
    return this.dirs.size;
  }

  /** Listens to `dir` (once however many ask); a directory already listened to is
   * checked to still be the one the watch is on (replaced by a rename: watched anew). */
  listen(root: string, dir: string): void {
    const k = dirKey(root, dir);
    let d = this.dirs.get(k);
    if (!d) {
      d = { root, dir, refs: 0, names: new Set(), lastFire: 0 };
      this.dirs.set(k, d);
      this.place(d);
    } else this.check(d);
    d.refs++;
  }

  unlisten(root: string, dir: string): void {
    const k = dirKey(root, dir);
    const d = this.dirs.get(k);
    if (!d || --d.refs > 0) return;
    this.drop(d);
    this.dirs.delete(k);
  }

  /** Re-places watches on directories that were replaced or could not be watched. */
  refresh(): void {
    for (const d of this.dirs.values()) this.check(d);
  }

  private check(d: Dir): void {
    const st = this.statHost(d);
    if (!d.watcher || !st || st.ino !== d.ino || st.dev !== d.dev) {
      this.drop(d);
      this.place(d);
    }
  }

  close(): void {
    this.closed = true;
    for (const d of this.dirs.values()) this.drop(d);
    this.dirs.clear();
  }

  private statHost(d: Dir): fs.BigIntStats | undefined {
    try {
      return fs.statSync(hostPath(d.root, d.dir), { bigint: true });
    } catch {
      return undefined;
    }
  }

  private place(d: Dir): void {
    if (this.closed) return;
    const host = hostPath(d.root, d.dir);
    let w: fs.FSWatcher;
    try {
      w = fs.watch(host, { persistent: false }, (type, name) => this.notify(d, type, name));
    } catch (e) {
      // a directory that is gone now: its parent's notification brings it back
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        this.counters.watchErrors++;
        this.opts.log.warn({ dir: host, err: (e as Error).message }, 'cannot watch directory; the periodic re-check covers it');
      }
      return;
    }
    w.on('error', () => {
      // the directory went away under the watch; refresh() places a new one
      w.close();
      if (d.watcher === w) d.watcher = undefined;
    });
    const st = this.statHost(d);
    // Inside a container the host path goes through the container's own
    // symlinks only if one was swapped in since the walk: check that it is the
    // directory RESOLVE_IN_ROOT sees, or do not listen there at all.
    if (st && d.root !== '/') {
      const [r] = native().statInRoot(d.root, [d.dir]);
      if (r.errno !== undefined || st.ino !== r.ino) {
        this.counters.unsafe++;
        w.close();
        return;
      }
    }
    d.watcher = w;
    d.ino = st?.ino;
    d.dev = st?.dev;
  }

  private drop(d: Dir): void {
    clearTimeout(d.timer);
    d.timer = undefined;
    d.watcher?.close();
    d.watcher = undefined;
  }

  private notify(d: Dir, type: string, name: string | Buffer | null): void {
    if (type === 'change') return;
    this.counters.notifications++;
    // no name: an overflow or the directory itself; every entry may have changed
    const n = name === null ? ANY_NAME : path.basename(name.toString());
    if (d.timer) {
      this.counters.coalesced++;
      d.names.add(n);
      return;
    }
    d.names.add(n);
    const wait = Math.max(this.coalesceMs, d.lastFire + this.minIntervalMs - Date.now());
    d.timer = setTimeout(() => {
      d.timer = undefined;
      d.lastFire = Date.now();
      const names = d.names;
      d.names = new Set();
      if (!this.closed) this.onChange(dirKey(d.root, d.dir), names);
    }, wait);
  }
}
