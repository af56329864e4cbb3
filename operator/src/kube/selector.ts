// metav1.LabelSelector semantics: every matchLabels pair and every
// matchExpressions requirement must hold; an empty selector matches everything.
import type { LabelSelector } from './hivetrace-schema';

export function matchesSelector(sel: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const vals = r.values ?? [];
    switch (r.operator) {
      case 'In':
        if (!has || !vals.includes(labels[r.key])) return false;
        break;
      case 'NotIn':
        if (has && vals.includes(labels[r.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false; // unknown operators match nothing
    }
  }
  return true;
}
