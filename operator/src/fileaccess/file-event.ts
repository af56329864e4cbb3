// Raw kernel events -> the JSON records users read (DESIGN.md's file event),
// and the one-line human form of --pretty.
import os from 'node:os';
import { RawFileEvent, accessNames, AccessName, SOURCE } from './layout';
import { formatDev } from '../sys/devnum';
import { Clock } from '../output/clock';

export interface FileEventRecord {
  time: string;
  node: string;
  kind: 'file';
  trace?: { namespace: string; name: string };
  pod?: { namespace: string; name: string; uid: string };
  container?: { name: string; id: string };
  path: string;
  /** Other names the same inode was watched under (hard links). */
  aliases?: string[];
  inode: number | string;
  /** "major:minor" of the filesystem, as in /proc/self/mountinfo. */
  dev: string;
  access: AccessName[];
  process: { pid: number; tgid: number; ppid: number; uid: number; gid: number; comm: string };
  /** The attach mode that saw the access: kprobe, fentry, lsm or tracepoint. */
  mode: string;
  /** The file's type and permission bits, octal, as stat(1) %f would in octal. */
  file_mode: string;
  cgroup_id: string;
  count?: number;
}

/** What a watch id stands for, supplied by whoever created the watch. */
export interface WatchInfo {
  path: string;
  aliases?: string[];
  trace?: FileEventRecord['trace'];
  pod?: FileEventRecord['pod'];
  container?: FileEventRecord['container'];
}

export function toRecord(e: RawFileEvent, info: WatchInfo | undefined, clock: Clock, node = os.hostname()): FileEventRecord {
  const rec: FileEventRecord = {
    time: clock.toIso(e.tsNs),
    node,
    kind: 'file',
    path: info?.path ?? '?',
    inode: e.ino <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(e.ino) : e.ino.toString(),
    dev: formatDev(e.dev),
    access: accessNames(e.access),
    process: { pid: e.pid, tgid: e.tgid, ppid: e.ppid, uid: e.uid, gid: e.gid, comm: e.comm },
    mode: SOURCE[e.source] ?? `source-${e.source}`,
    file_mode: `0${e.fileMode.toString(8)}`,
    cgroup_id: e.cgroupId.toString(),
  };
  if (info?.aliases?.length) rec.aliases = info.aliases;
  if (info?.trace) rec.trace = info.trace;
  if (info?.pod) rec.pod = info.pod;
  if (info?.container) rec.container = info.container;
  return rec;
}

/** One readable line: time, access, path, then who did it. */
export function prettyLine(r: FileEventRecord): string {
  const t = r.time.slice(11, 23);
  const acc = r.access.join(',').toUpperCase().padEnd(10);
  const p = r.process;
  const where = r.pod ? ` pod=${r.pod.namespace}/${r.pod.name} container=${r.container?.name ?? '?'}` : '';
  return `${t} ${acc} ${r.path} (ino ${r.inode} dev ${r.dev}) by ${p.comm}[${p.tgid}] uid=${p.uid} ppid=${p.ppid}${where} via ${r.mode}`;
}
