// The BPF maps a process holds, found through its file descriptors (fdinfo),
// and their contents through bpftool: how tests and benchmarks look at what
// one agent (or peer tool) put in the kernel, without trusting its own counters
// and without mixing in other processes' maps.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface ProcessMap {
  id: number;
  /** enum bpf_map_type */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** bytes the kernel charges for it */
  memlock: number;
}

/** Every map `pid` holds a descriptor of, once each (fdinfo of its anon_inode:bpf-map fds). */
export function processMaps(pid: number): ProcessMap[] {
  const seen = new Map<number, ProcessMap>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let info: string;
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const field = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(info)?.[1]);
    const id = field('map_id');
    if (!seen.has(id)) {
      seen.set(id, { id, type: field('map_type'), keySize: field('key_size'), valueSize: field('value_size'), maxEntries: field('max_entries'), memlock: field('memlock') });
    }
  }
  return [...seen.values()];
}

/** Map names by id (bpftool; empty when it is not installed). */
export function mapNames(): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const m of JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString() || '[]') as { id: number; name?: string }[]) {
      names.set(m.id, m.name ?? '');
    }
  } catch {
    // no bpftool
  }
  return names;
}

/** The maps of `pid` named `name` (bpftool names: at most 15 characters). */
export function processMapsNamed(pid: number, name: string): ProcessMap[] {
  const names = mapNames();
  return processMaps(pid).filter((m) => names.get(m.id) === name);
}

/** The entries of one map, as bpftool dumps them (hex byte strings). */
export function dumpMap(id: number): { key: string[]; value: string[] }[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(id)]).toString() || '[]');
}
