// What a node does with a trace's spec.action (issue 16): the kernel stops the
// accesses only when the trace asks to, its spec.enforce allows it, the
// agent's --enforce switch is on, and this node's attach mode can apply that
// action (MODE_ENFORCEMENT). Otherwise the accesses are audited with the
// intent kept: the kernel reports would-deny where it would have stopped them
// (exemptions apply), and the status says why. A mode that cannot is never a
// silent audit: the node's Ready is False, reason EnforcementUnavailable.
import { Enforcement, enforcementProblem } from '../fileaccess/action';
import type { Mode } from '../fileaccess/modes';
import type { HiveTrace } from '../kube/hivetrace-schema';
import type { NodeEntry } from './status-writer';

export type EnforcementReport = NonNullable<NodeEntry['enforcement']>;

/** What the node can stop: its mode, what that mode can apply (null: nothing), and the agent's --enforce. */
export interface NodeEnforcement {
  mode: Mode;
  can: Enforcement | null;
  enabled: boolean;
  /** Why nothing may be stopped on this node although the mode could (e.g. the host's processes cannot be exempted). */
  problem?: string;
}

/** For the watch keeper: action (the kernel stops) or intent (audited as would-deny); and for the status. */
export interface TraceEnforcement {
  action?: Enforcement;
  intent?: Enforcement;
  report?: EnforcementReport;
}

export function traceEnforcement(spec: HiveTrace['spec'], node: NodeEnforcement): TraceEnforcement {
  const want = spec.action ?? 'audit';
  if (want === 'audit' || spec.dryRun) return {};
  const audited = (reason: string, unavailable = false): TraceEnforcement => ({
    intent: want,
    report: { applied: 'would-deny', mode: node.mode, reason, ...(unavailable ? { unavailable: true } : {}) },
  });
  // the trace's own choice first: an audit-first trace is not a node's problem
  if (spec.enforce === false) return audited('audit first (spec.enforce: false)');
  if (!node.enabled) return audited("enforcement is off on this node (the agent's --enforce=false)");
  if (node.problem) return audited(node.problem, true);
  if (node.can !== want) return audited(enforcementProblem(node.mode, want) ?? `mode ${node.mode} cannot ${want}`, true);
  return { action: want, report: { applied: want, mode: node.mode } };
}
