// The watches of one `hive trace`: the resolved files, one watch per inode.
// Its own module because both the host and the container paths of trace use it.
import type { WatchEntry } from '../fileaccess/monitor';
import type { WatchInfo } from '../fileaccess/file-event';

export interface Plan {
  entries: WatchEntry[];
  infos: Map<number, WatchInfo>;
}

/** Watch ids by inode: two names of one inode (hard links) share one watch and one id. */
export function planWatches(
  access: number,
  files: { path: string; ino: bigint; dev: number }[],
  container?: WatchInfo['container'],
): Plan {
  const byInode = new Map<string, { entry: WatchEntry; info: WatchInfo }>();
  for (const r of files) {
    const k = `${r.dev}:${r.ino}`;
    const have = byInode.get(k);
    if (have) {
      if (have.info.path !== r.path) (have.info.aliases ??= []).push(r.path);
      continue;
    }
    const watchId = byInode.size + 1;
    const info: WatchInfo = container ? { path: r.path, container } : { path: r.path };
    byInode.set(k, { entry: { ino: r.ino, dev: r.dev, watchId, access }, info });
  }
  const infos = new Map<number, WatchInfo>();
  for (const { entry, info } of byInode.values()) infos.set(entry.watchId, info);
  return { entries: [...byInode.values()].map((v) => v.entry), infos };
}
