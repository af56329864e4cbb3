// /proc/<pid>/stat, read one way everywhere: comm (field 2) is in parentheses
// and may hold spaces and parentheses itself, so the fields are the ones after
// its last ')'. Index 0 is the line's field 3 (state); 1 ppid, 6 flags,
// 19 starttime (proc(5) numbers them from 1).
import fs from 'node:fs';

/** The fields after comm of a /proc/<pid>/stat text. */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** statFields of `<proc>/<pid>/stat`, undefined when there is no such process. */
export function readStat(proc: string, pid: number | string): string[] | undefined {
  try {
    return statFields(fs.readFileSync(`${proc}/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

export const STAT = { ppid: 1, flags: 6, starttime: 19 } as const;
