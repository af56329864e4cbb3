// What a watched path would be, explained: for `hive explain` and a
// HiveTrace's dry run. Nothing here decides anything of its own: the files
// are resolvePattern's (pattern.ts: one meaning of paths, directories and
// globs, identities from openat2(RESOLVE_IN_ROOT)), the hops are traverse's
// walk (traverse.ts: symlinks resolved inside the root as RESOLVE_IN_ROOT
// does), the mount is the root process's mountinfo. So the explanation is
// what a live watch would get, never a second opinion.
import fs from 'node:fs';
import fg from 'fast-glob';
import { formatDev } from '../sys/devnum';
import { PatternState, globSegments, resolvePattern } from './pattern';
import { Hop, Traversal, hostPath, traverse } from './traverse';
import { DEFAULT_MAX_MATCHES, InRootFile } from './in-root';
import { Mount, OverlayLayer, mountOf, overlayLayer, parseMountinfo } from './mountinfo';

export type { Hop } from './traverse';

export interface ExplainedMount {
  mountPoint: string;
  fsType: string;
  source: string;
  /** overlayfs only, for files (a directory merges layers). */
  overlay?: OverlayLayer;
  /** The file's device is not the mount's: reported, not guessed away. */
  devMismatch?: { file: string; mount: string };
}

export interface ExplainedFile {
  /** The name it was found under: the path itself, a glob match or a directory's entry. */
  path: string;
  /** The symlink-free path inside the root it resolves to. */
  final?: string;
  /** Every symlink followed from `path` to `final`. */
  hops: Hop[];
  /** The identity the kernel's watch map would get (openat2 RESOLVE_IN_ROOT + fstat). */
  ino: string;
  /** "major:minor", as events and mountinfo print it. */
  dev: string;
  /** The kernel's encoding (major << 20 | minor): the map key's dev. */
  kdev: number;
  type: 'file' | 'directory' | 'symlink' | 'other';
  mount?: ExplainedMount;
  /** The walk ended elsewhere than the kernel's open (the tree changed meanwhile). */
  walkDisagrees?: true;
}

export interface PathExplanation {
  path: string;
  kind: 'path' | 'directory' | 'glob';
  state: PatternState;
  /** Why not ok, one line. */
  reason?: string;
  /** A path that does not exist (yet): the directory inside the root the watch waits in, and the name it waits for. */
  waitsFor?: { dir: string; name: string };
  /** The path's own walk (a glob: that of its static part), when it got anywhere. */
  hops: Hop[];
  /** What would be watched. */
  files: ExplainedFile[];
  /** A glob or directory that named more than the cap. */
  truncated?: { seen: number; limit: number };
}

export interface ExplainOptions {
  maxMatches?: number;
  /** The /proc/<pid> directory of the root's process (for its mountinfo); default /proc/self. */
  procDir?: string;
  /** The host's root as this process reaches it, to look into overlay layers; default "/". */
  hostRoot?: string;
}

const S_IFMT = 0o170000;
const TYPES: Record<number, ExplainedFile['type']> = { 0o100000: 'file', 0o040000: 'directory', 0o120000: 'symlink' };

function readMounts(procDir: string): Mount[] | undefined {
  try {
    return parseMountinfo(fs.readFileSync(`${procDir}/mountinfo`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The file's inode as the host sees the walk's final path (a symlink-free path: no link can redirect it). */
function walkIno(root: string, final: string): bigint | undefined {
  try {
    return fs.lstatSync(hostPath(root, final), { bigint: true }).ino;
  } catch {
    return undefined;
  }
}

function explainFile(root: string, f: InRootFile, mounts: Mount[] | undefined, hostRoot: string, walked?: Traversal): ExplainedFile {
  const t = walked ?? traverse(root, f.path);
  const type = TYPES[f.mode & S_IFMT] ?? 'other';
  const out: ExplainedFile = { path: f.path, ...(t.final ? { final: t.final } : {}), hops: t.hops, ino: f.ino.toString(), dev: formatDev(f.dev), kdev: f.dev, type };
  if (!t.final || walkIno(root, t.final) !== f.ino) out.walkDisagrees = true;
  const m = t.final && mounts ? mountOf(mounts, t.final) : undefined;
  if (m && t.final) {
    out.mount = { mountPoint: m.mountPoint, fsType: m.fsType, source: m.source };
    if (m.dev !== out.dev) out.mount.devMismatch = { file: out.dev, mount: m.dev };
    if (m.fsType === 'overlay' && type !== 'directory') {
      const rel = m.mountPoint === '/' ? t.final : t.final.slice(m.mountPoint.length);
      out.mount.overlay = overlayLayer(m, rel, hostRoot);
    }
  }
  return out;
}

/** Why a walk did not reach a file, in words a reader acts on. */
function whyNot(t: Traversal, fallback: string | undefined): { reason: string; waitsFor?: { dir: string; name: string } } {
  if (t.missing) {
    const { dir, name } = t.missing;
    return { reason: `missing: no '${name}' in ${dir} (the watch waits there for it to appear)`, waitsFor: { dir, name } };
  }
  if (t.code === 'ELOOP') return { reason: `symlink loop: ${t.error}` };
  if (t.code === 'ENOTDIR') return { reason: `not a directory: ${t.error}` };
  return { reason: t.error ?? fallback ?? 'does not resolve' };
}

/** Explains one pattern in `root` ("/" or /proc/<pid>/root). Never throws. */
export function explainPattern(root: string, pattern: string, opts: ExplainOptions = {}, mounts = readMounts(opts.procDir ?? '/proc/self')): PathExplanation {
  const res = resolvePattern(root, pattern, { maxMatches: opts.maxMatches ?? DEFAULT_MAX_MATCHES });
  const glob = res.state !== 'invalid' && fg.isDynamicPattern(pattern);
  const out: PathExplanation = { path: pattern, kind: glob ? 'glob' : 'path', state: res.state, hops: [], files: [] };
  if (res.truncated) out.truncated = res.truncated;
  if (res.state === 'invalid') {
    out.reason = `invalid path: ${res.reason}`;
    return out;
  }
  const g = glob ? globSegments(pattern) : undefined;
  const t = traverse(root, g ? g.base : pattern);
  out.hops = t.hops;
  const hostRoot = opts.hostRoot ?? '/';
  // the path's own walk is its first file's (a plain path, or a directory itself)
  out.files = res.files.map((f) => explainFile(root, f, mounts, hostRoot, !glob && f.path === pattern ? t : undefined));
  if (!glob && out.files[0]?.type === 'directory') out.kind = 'directory';
  if (res.state === 'ok') return out;
  if (glob && t.final) {
    out.reason = `glob matched nothing (the watch waits in ${t.final} and below for a match)`;
    out.waitsFor = { dir: t.final, name: g!.segments.slice(g!.dynamicAt).join('/') };
    return out;
  }
  Object.assign(out, whyNot(t, res.reason));
  return out;
}

/** Explains every pattern in one root, reading its mountinfo once. */
export function explainPatterns(root: string, patterns: string[], opts: ExplainOptions = {}): PathExplanation[] {
  const mounts = readMounts(opts.procDir ?? '/proc/self');
  return patterns.map((p) => explainPattern(root, p, opts, mounts));
}

/**
 * Where overlay layer directories (host paths, as containerd mounted them)
 * are reached from here: "/" when the host's /proc is our own (we run in the
 * host's mount namespace, as `hive` on a node does), else the host's root
 * through its /proc (an agent in a pod with the host's /proc at /host/proc).
 */
export function hostRootOf(hostProc: string): string {
  return hostProc === '/proc' ? '/' : `${hostProc}/1/root`;
}

/** How each hop went, in one line: "a -> b (confined: ...)". */
export function hopText(h: Hop, inContainer: boolean): string {
  const notes: string[] = [];
  if (h.climbsPastRoot) notes.push("confined: '..' climbs past the root, stopped at the root (RESOLVE_IN_ROOT)");
  else if (h.absolute && inContainer) notes.push("confined: absolute target, resolved from the root, not the host's / (RESOLVE_IN_ROOT)");
  return `${h.link} -> ${h.target}${h.to && h.to !== h.target ? ` = ${h.to}` : ''}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

/** A mount in a few words: "overlay on / (overlay), upper layer". */
export function mountText(m: ExplainedMount): string {
  let s = `${m.fsType} ${m.source} on ${m.mountPoint}`;
  if (m.overlay) {
    const o = m.overlay;
    s += o.layer === 'upper' ? ', upper layer (written in the container)' : o.layer === 'lower' ? `, lower layer ${o.index} (from the image)` : `, layer unknown: ${o.why}`;
  }
  if (m.devMismatch) s += ` (file dev ${m.devMismatch.file} differs from the mount's ${m.devMismatch.mount})`;
  return s;
}
