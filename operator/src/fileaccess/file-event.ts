// Raw kernel events -> the JSON records users read (DESIGN.md's file event),
// and the one-line human form of --pretty.
import os from 'node:os';
import { RawFileEvent, accessNames, AccessName, SOURCE, VERDICT, Verdict } from './layout';
import { Ancestor } from '../bpf/proc-record';
import { chainText } from '../output/process-chain';
import { formatDev } from '../sys/devnum';
import { Clock } from '../output/clock';
import { setLineFormat } from '../output/event-writer';
import { printable } from '../output/printable';

export interface FileEventRecord {
  time: string;
  node: string;
  kind: 'file';
  trace?: { namespace: string; name: string };
  pod?: { namespace: string; name: string; uid: string };
  /** image: what the pod status (or the runtime) says the container runs, when it knows. */
  container?: { name: string; id: string; image?: string };
  path: string;
  /** Other names the same inode was watched under (hard links). */
  aliases?: string[];
  inode: number | string;
  /** "major:minor" of the filesystem, as in /proc/self/mountinfo. */
  dev: string;
  access: AccessName[];
  /**
   * exe: the executable (the kernel's mm->exe_file) as the process sees it;
   * ancestors: parent first, up to the init of its pid namespace (a
   * container's init) or 4. Both absent when the kernel wrote no record of
   * the process (a synthetic event, or its ring-buffer record was lost).
   */
  process: { pid: number; tgid: number; ppid: number; uid: number; gid: number; comm: string; exe?: string; exe_inode?: number | string; exe_dev?: string; ancestors?: Ancestor[] };
  /** The attach mode that saw the access: kprobe, fentry, lsm or tracepoint. */
  mode: string;
  /**
   * What was done to the access: allowed, denied (EPERM from the hook),
   * killed (the opener got SIGKILL at the open's exit); would-deny is the
   * agent's dry run of a deny.
   */
  verdict: Verdict;
  /** The file's type and permission bits, octal, as stat(1) %f would in octal. */
  file_mode: string;
  cgroup_id: string;
  /**
   * Accesses this record stands for, when more than one (absent: one). The
   * kernel folds a storm's repeats of one (watch, process, access) into the
   * last of them once an interval; a trace's rateLimit folds what passes its
   * limit per file and access, never folding two files together. The sum
   * over records is the number of accesses.
   */
  count?: number;
  /** On a record a trace's rateLimit folded: the time of the first access it stands for (`time` is the last's). */
  first_time?: string;
  /**
   * Who accessed (the agent; absent when it cannot tell): `pod`, the event's
   * own pod; `other-pod`, another pod of the node (accessor_pod names it
   * where the node knows it); `host`, the node itself (the kubelet, the
   * runtime, a host process); `container`, a container the node cannot name.
   * Told from the process's pid namespace and cgroup, never its name.
   */
  accessor?: AccessorText;
  accessor_pod?: { namespace: string; name: string; uid: string };
}

export type AccessorText = 'pod' | 'other-pod' | 'host' | 'container';

/** Who accessed, as the agent resolved the process (agent/accessors.ts). */
export interface AccessorInfo {
  kind: 'pod' | 'host' | 'container';
  pod?: { namespace: string; name: string; uid: string };
}

/** The accessor fields of a record of the watch `info` (its pod is "pod"; another, "other-pod"). */
export function accessorFields(a: AccessorInfo, info: WatchInfo | undefined): Pick<FileEventRecord, 'accessor' | 'accessor_pod'> {
  if (a.kind !== 'pod') return { accessor: a.kind };
  if (a.pod && info?.pod && a.pod.uid === info.pod.uid) return { accessor: 'pod' };
  return a.pod ? { accessor: 'other-pod', accessor_pod: a.pod } : { accessor: 'other-pod' };
}

/** What a watch id stands for, supplied by whoever created the watch. */
export interface WatchInfo {
  path: string;
  aliases?: string[];
  trace?: FileEventRecord['trace'];
  pod?: FileEventRecord['pod'];
  container?: FileEventRecord['container'];
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** f() remembering its last answer: a node's events mostly repeat the device, mode and cgroup (fewer strings for the GC). */
function lastOf<K, V>(f: (k: K) => V): (k: K) => V {
  let key: K | undefined;
  let val: V | undefined;
  return (k) => {
    if (k !== key || val === undefined) {
      val = f(k);
      key = k;
    }
    return val;
  };
}
const devText = lastOf(formatDev);
/** An inode number as events write it: a number, or its digits as a string above 2^53. */
const inodeText = (ino: bigint): number | string => (ino <= MAX_SAFE ? Number(ino) : ino.toString());
const fileModeText = lastOf((m: number) => `0${m.toString(8)}`);
const cgroupText = lastOf((c: bigint) => c.toString());

export function toRecord(e: RawFileEvent, info: WatchInfo | undefined, clock: Clock, node = os.hostname(), accessor?: AccessorInfo): FileEventRecord {
  const rec: FileEventRecord = {
    time: clock.toIso(e.tsNs),
    node,
    kind: 'file',
    path: info?.path ?? '?',
    inode: inodeText(e.ino),
    dev: devText(e.dev),
    access: accessNames(e.access),
    process: e.lineage
      ? e.lineage.exeIno !== undefined
        ? { pid: e.pid, tgid: e.tgid, ppid: e.ppid, uid: e.uid, gid: e.gid, comm: e.comm, exe: e.lineage.exe, exe_inode: inodeText(e.lineage.exeIno), exe_dev: devText(e.lineage.exeDev ?? 0), ancestors: e.lineage.ancestors }
        : { pid: e.pid, tgid: e.tgid, ppid: e.ppid, uid: e.uid, gid: e.gid, comm: e.comm, exe: e.lineage.exe, ancestors: e.lineage.ancestors }
      : { pid: e.pid, tgid: e.tgid, ppid: e.ppid, uid: e.uid, gid: e.gid, comm: e.comm },
    mode: SOURCE[e.source] ?? `source-${e.source}`,
    verdict: VERDICT[e.verdict] ?? 'allowed',
    file_mode: fileModeText(e.fileMode),
    cgroup_id: cgroupText(e.cgroupId),
  };
  if (info?.aliases?.length) rec.aliases = info.aliases;
  if (info?.trace) rec.trace = info.trace;
  if (info?.pod) rec.pod = info.pod;
  if (info?.container) rec.container = info.container;
  if (accessor) Object.assign(rec, accessorFields(accessor, info));
  if (e.count > 1) rec.count = e.count;
  return rec;
}

/** One readable line: time, access, path, then who did it; what the workload named is escaped (printable). */
export function prettyLine(r: FileEventRecord): string {
  const t = r.time.slice(11, 23);
  const acc = r.access.join(',').toUpperCase().padEnd(10);
  const p = r.process;
  const where = r.pod ? ` pod=${r.pod.namespace}/${r.pod.name} container=${r.container?.name ?? '?'}` : '';
  const exe = p.exe ? ` exe=${p.exe}` : '';
  // lines recorded before verdicts existed (hive logs reads them back) have none: allowed
  const verdict = !r.verdict || r.verdict === 'allowed' ? '' : ` ${r.verdict.toUpperCase()}`;
  return printable(`${t} ${acc} ${r.path} (ino ${r.inode} dev ${r.dev}) by ${chainText(p)}${exe} uid=${p.uid} ppid=${p.ppid}${where} via ${r.mode}${verdict}`);
}

// The JSON line of a record, the same text JSON.stringify gives for a record
// built by toRecord (same keys, same order), without its generic walk over
// twenty-odd properties: at node rates that walk was the pipeline's largest
// cost. The parts an owner shares by every event (trace, pod, container,
// aliases) are the same objects event after event and are stringified once.
// The event writer uses it for every record of kind "file".
// what JSON.stringify would escape: quote, backslash, controls, surrogates
// (a lone one becomes \udXXX; a pair passes as is, but is rare enough here)
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function str(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** str() remembering its last answer: node, dev, mode, comm, path... repeat event after event. */
function lastStr(): (s: string) => string {
  let last = '';
  let out = '""';
  return (s) => {
    if (s !== last) {
      out = str(s);
      last = s;
    }
    return out;
  };
}

const F = {
  time: lastStr(), node: lastStr(), path: lastStr(), dev: lastStr(), comm: lastStr(), exe: lastStr(), mode: lastStr(), verdict: lastStr(), fileMode: lastStr(), cgroup: lastStr(),
};

const shared = new WeakMap<object, string>();

function once(o: object): string {
  let j = shared.get(o);
  if (j === undefined) {
    j = JSON.stringify(o);
    shared.set(o, j);
  }
  return j;
}

const ACCESS_JSON = new Map<string, string>();
/** By the array itself first: accessNames() hands out one array per mask. */
const ACCESS_JSON_OF = new WeakMap<string[], string>();

function accessJson(a: string[]): string {
  const known = ACCESS_JSON_OF.get(a);
  if (known !== undefined) return known;
  const k = a.join(',');
  let j = ACCESS_JSON.get(k);
  if (j === undefined) {
    j = JSON.stringify(a);
    if (ACCESS_JSON.size < 64) ACCESS_JSON.set(k, j);
  }
  ACCESS_JSON_OF.set(a, j);
  return j;
}

const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null');

/** JSON.stringify(rec) of a record as toRecord (and the rate limiter's count) build it. */
export function fileEventLine(r: FileEventRecord): string {
  const p = r.process;
  let s =
    `{"time":${F.time(r.time)},"node":${F.node(r.node)},"kind":"file","path":${F.path(r.path)},` +
    `"inode":${typeof r.inode === 'number' ? num(r.inode) : str(r.inode)},"dev":${F.dev(r.dev)},"access":${accessJson(r.access)},` +
    `"process":{"pid":${num(p.pid)},"tgid":${num(p.tgid)},"ppid":${num(p.ppid)},"uid":${num(p.uid)},"gid":${num(p.gid)},"comm":${F.comm(p.comm)}` +
    // exe and ancestors are one process's, the same arrays event after event
    (p.exe !== undefined ? `,"exe":${F.exe(p.exe)}` : '') +
    (p.exe_inode !== undefined ? `,"exe_inode":${typeof p.exe_inode === 'number' ? num(p.exe_inode) : str(p.exe_inode)},"exe_dev":${F.dev(p.exe_dev!)}` : '') +
    (p.ancestors !== undefined ? `,"ancestors":${once(p.ancestors)}` : '') +
    '},' +
    `"mode":${F.mode(r.mode)},"verdict":${F.verdict(r.verdict)},"file_mode":${F.fileMode(r.file_mode)},"cgroup_id":${F.cgroup(r.cgroup_id)}`;
  if (r.aliases !== undefined) s += `,"aliases":${once(r.aliases)}`;
  if (r.trace !== undefined) s += `,"trace":${once(r.trace)}`;
  if (r.pod !== undefined) s += `,"pod":${once(r.pod)}`;
  if (r.container !== undefined) s += `,"container":${once(r.container)}`;
  if (r.accessor !== undefined) s += `,"accessor":${str(r.accessor)}`;
  if (r.accessor_pod !== undefined) s += `,"accessor_pod":${once(r.accessor_pod)}`;
  if (r.count !== undefined) s += `,"count":${num(r.count)}`;
  if (r.first_time !== undefined) s += `,"first_time":${str(r.first_time)}`;
  return `${s}}`;
}

/** The keys of `process` fileEventLine writes, in its order (file-line.test.ts: toRecord writes no other).
 * A field added to toRecord's process (or to the record) must be added to fileEventLine and here. */
export const PROCESS_KEYS = ['pid', 'tgid', 'ppid', 'uid', 'gid', 'comm', 'exe', 'exe_inode', 'exe_dev', 'ancestors'];

/** The keys fileEventLine writes, in its order (file-line.test.ts: toRecord writes no other). */
export const FILE_EVENT_KEYS = ['time', 'node', 'kind', 'path', 'inode', 'dev', 'access', 'process', 'mode', 'verdict', 'file_mode', 'cgroup_id', 'aliases', 'trace', 'pod', 'container', 'accessor', 'accessor_pod', 'count', 'first_time'];

setLineFormat('file', (r) => fileEventLine(r as unknown as FileEventRecord));
