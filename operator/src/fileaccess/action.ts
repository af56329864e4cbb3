// What a watch does to the accesses it reports: audit (report only), deny
// (the hook refuses them with EPERM) or kill (SIGKILL to the opener at the
// open's exit). Which attach mode can do which is a fact of the hook, fixed
// here so that the CLI, the monitor and (later) the agent say the same.
import { MODES, Mode } from './modes';

export const ACTIONS = ['audit', 'deny', 'kill'] as const;
export type Action = (typeof ACTIONS)[number];
/** The actions that stop an access. */
export type Enforcement = Exclude<Action, 'audit'>;

/**
 * What each mode can stop. lsm returns -EPERM from the BPF LSM hook; fentry
 * loads fmod_ret/security_inode_permission in place of fentry/inode_permission
 * (fmod_ret may change only security_* and error-injectable functions);
 * kprobe cannot (bpf_override_return needs CONFIG_BPF_KPROBE_OVERRIDE and an
 * error-injectable function: Debian's kernels have neither for this hook);
 * tracepoint runs after the open succeeded, so it can only kill the opener.
 */
export const MODE_ENFORCEMENT: Record<Mode, Enforcement | null> = { kprobe: null, fentry: 'deny', lsm: 'deny', tracepoint: 'kill' };

/** The modes that can apply `e`, in MODES order. */
export function modesFor(e: Enforcement): Mode[] {
  return MODES.filter((m) => MODE_ENFORCEMENT[m] === e);
}

/** Why `mode` cannot apply `e` (null: it can), naming the modes that would. */
export function enforcementProblem(mode: Mode, e: Enforcement): string | null {
  if (MODE_ENFORCEMENT[mode] === e) return null;
  const what = e === 'deny' ? 'deny (refuse the access with EPERM)' : 'kill (SIGKILL the opener)';
  const why = mode === 'tracepoint' && e === 'deny' ? ': the tracepoint runs after the open succeeded (its mode can kill the opener instead)' : '';
  return `mode ${mode} cannot ${what}${why}; modes that can: ${modesFor(e).join(', ')}`;
}
