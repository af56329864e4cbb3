// Which mount a file inside a root lives on, from /proc/<pid>/mountinfo (the
// kernel prints mount points relative to that process's root, so they are
// paths inside the root already), and for overlayfs which layer holds it.
// Pure parsing here plus one lookup that reads the layer directories.
import fs from 'node:fs';
import path from 'node:path';

export interface Mount {
  mountPoint: string;
  /** "major:minor" of the mounted filesystem (st_dev of its files). */
  dev: string;
  fsType: string;
  source: string;
  /** Filesystem-specific options (overlay: lowerdir, upperdir, workdir). */
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Lines of /proc/<pid>/mountinfo, in mount order (a later mount on the same point hides an earlier one). */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const a = line.slice(0, sep).split(' ');
    const b = line.slice(sep + 3).split(' ');
    if (a.length < 6 || b.length < 2) continue;
    out.push({ mountPoint: unescape(a[4]), dev: a[2], fsType: b[0], source: unescape(b[1]), superOptions: unescape(b[2] ?? '') });
  }
  return out;
}

const under = (p: string, mp: string) => mp === '/' || p === mp || p.startsWith(`${mp}/`);

/**
 * The mount `p` (a symlink-free path inside the root) is on: the deepest
 * mount point above it, the last mounted one when several share it. `dev`
 * (the file's "major:minor") confirms it; a disagreement is reported by the
 * caller, never guessed away.
 */
export function mountOf(mounts: readonly Mount[], p: string): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) if (under(p, m.mountPoint) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  return best;
}

/** Splits an overlay option's directory list: ':' separates, '\' escapes. */
function splitDirs(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '\\' && i + 1 < v.length) cur += v[++i];
    else if (v[i] === ':') {
      out.push(cur);
      cur = '';
    } else cur += v[i];
  }
  out.push(cur);
  return out.filter(Boolean);
}

export function overlayDirs(m: Mount): { upper?: string; lower: string[] } {
  const opts = new Map<string, string>();
  // option values may hold commas only escaped; these three never do in practice
  for (const o of m.superOptions.split(',')) {
    const eq = o.indexOf('=');
    if (eq > 0) opts.set(o.slice(0, eq), o.slice(eq + 1));
  }
  return { upper: opts.get('upperdir'), lower: splitDirs(opts.get('lowerdir') ?? '') };
}

export type OverlayLayer =
  | { layer: 'upper'; dir: string }
  | { layer: 'lower'; index: number; dir: string }
  | { layer: 'unknown'; why: string };

/**
 * Which overlay layer shows `rel` (the file's path relative to the mount
 * point): the topmost layer directory holding an entry there, as overlayfs
 * looks it up. Honest limits: the layer directories are host paths, read
 * through `hostRoot` (the host's root as this process reaches it); a
 * renamed directory (redirect_dir) or a layer that cannot be read is
 * "unknown", not guessed.
 */
export function overlayLayer(m: Mount, rel: string, hostRoot: string): OverlayLayer {
  const { upper, lower } = overlayDirs(m);
  const layers: { dir: string; upper: boolean; index: number }[] = [
    ...(upper ? [{ dir: upper, upper: true, index: -1 }] : []),
    ...lower.map((dir, index) => ({ dir, upper: false, index })),
  ];
  if (layers.length === 0) return { layer: 'unknown', why: 'no layer directories in the mount options' };
  for (const l of layers) {
    const host = path.posix.join(hostRoot, l.dir);
    try {
      fs.lstatSync(path.posix.join(host, rel));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (!fs.existsSync(host)) return { layer: 'unknown', why: `layer directory ${l.dir} not readable from here` };
        continue;
      }
      return { layer: 'unknown', why: `${l.dir}: ${(e as Error).message}` };
    }
    return l.upper ? { layer: 'upper', dir: l.dir } : { layer: 'lower', index: l.index, dir: l.dir };
  }
  return { layer: 'unknown', why: 'in no layer directory under that path (a renamed directory?)' };
}
