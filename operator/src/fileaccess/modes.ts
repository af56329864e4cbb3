// Attach modes of the file-access hook and the programs each one loads.

export const MODES = ['kprobe', 'fentry', 'lsm', 'tracepoint'] as const;
export type Mode = (typeof MODES)[number];
export type ModeOption = Mode | 'auto';

/** --mode auto tries these in order: lowest overhead first, the fallback last. */
export const AUTO_ORDER: readonly Mode[] = ['fentry', 'kprobe', 'lsm', 'tracepoint'];

export interface ModePrograms {
  /** Must load and attach, or the mode is unusable. */
  required: string[];
  /** Attached when the kernel has the hook; their absence is logged, not fatal. */
  optional: string[];
}

export const MODE_PROGRAMS: Record<Mode, ModePrograms> = {
  kprobe: { required: ['hive_kprobe_inode_permission'], optional: [] },
  // hive_fentry_inode_permission_pre512 replaces it where the kernel's BTF says
  // inode_permission(inode, mask): see programsFor().
  fentry: { required: ['hive_fentry_inode_permission'], optional: [] },
  lsm: { required: ['hive_lsm_inode_permission'], optional: [] },
  tracepoint: {
    required: ['hive_tp_exit_openat', 'hive_tp_sched_process_exec'],
    // open(2) and creat(2) do not exist on arm64; openat2 and open_by_handle_at are newer.
    optional: ['hive_tp_exit_open', 'hive_tp_exit_openat2', 'hive_tp_exit_creat', 'hive_tp_exit_open_by_handle_at'],
  },
};

/** The programs of a mode on a kernel whose inode_permission takes its inode at inodeArg. */
export function programsFor(mode: Mode, inodeArg: number | null): ModePrograms {
  if (mode === 'fentry' && inodeArg === 0) return { required: ['hive_fentry_inode_permission_pre512'], optional: [] };
  return MODE_PROGRAMS[mode];
}

export function parseMode(s: string): ModeOption {
  if (s === 'auto' || (MODES as readonly string[]).includes(s)) return s as ModeOption;
  throw new Error(`unknown mode '${s}'; allowed: auto, ${MODES.join(', ')}`);
}
