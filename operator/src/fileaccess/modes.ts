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

/**
 * In every mode: forgets a process on exec (bpf/lineage.bpf.h), so events
 * after an exec name the new executable. Without it they keep the old one;
 * the monitor logs that.
 */
export const LINEAGE_PROGRAM = 'hive_proc_exec';

export const MODE_PROGRAMS: Record<Mode, ModePrograms> = {
  kprobe: { required: ['hive_kprobe_inode_permission'], optional: [LINEAGE_PROGRAM] },
  // hive_fentry_inode_permission_pre512 replaces it where the kernel's BTF says
  // inode_permission(inode, mask): see programsFor().
  fentry: { required: ['hive_fentry_inode_permission'], optional: [LINEAGE_PROGRAM] },
  lsm: { required: ['hive_lsm_inode_permission'], optional: [LINEAGE_PROGRAM] },
  // One program on every syscall's exit that keeps the open family by number
  // (the numbers this architecture lacks never match), and the exec tracepoint.
  // hive_tp_sys_exit_probe_read replaces the first where the kernel lacks
  // bpf_rdonly_cast: see programsFor().
  tracepoint: { required: ['hive_tp_sys_exit', 'hive_tp_sched_process_exec'], optional: [LINEAGE_PROGRAM] },
};

/** What the kernel's BTF says that changes which programs a mode loads. */
export interface KernelShape {
  /** Position of `struct inode *` in inode_permission's arguments (null: not found). */
  inodeArg: number | null;
  /** The bpf_rdonly_cast kfunc exists (6.2+). */
  rdonlyCast: boolean;
}

/** fentry's program when it must refuse accesses: fmod_ret on security_inode_permission (one prototype on every kernel). */
export const FENTRY_DENY_PROGRAM = 'hive_fmodret_security_inode_permission';

/** The programs of a mode on a kernel of this shape; `deny`: the mode must be able to refuse accesses. */
export function programsFor(mode: Mode, kernel: KernelShape, deny = false): ModePrograms {
  if (mode === 'fentry' && deny) return { required: [FENTRY_DENY_PROGRAM], optional: [LINEAGE_PROGRAM] };
  if (mode === 'fentry' && kernel.inodeArg === 0) return { required: ['hive_fentry_inode_permission_pre512'], optional: [LINEAGE_PROGRAM] };
  if (mode === 'tracepoint' && !kernel.rdonlyCast) return { required: ['hive_tp_sys_exit_probe_read', 'hive_tp_sched_process_exec'], optional: [LINEAGE_PROGRAM] };
  return MODE_PROGRAMS[mode];
}

export function parseMode(s: string): ModeOption {
  if (s === 'auto' || (MODES as readonly string[]).includes(s)) return s as ModeOption;
  throw new Error(`unknown mode '${s}'; allowed: auto, ${MODES.join(', ')}`);
}
