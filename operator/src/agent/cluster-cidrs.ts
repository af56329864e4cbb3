// The cluster's addresses for the network monitor: the configured ranges
// (service CIDRs and the like) plus every Node's pod CIDRs and its internal
// and external addresses, as the nodes informer's cache has them.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { errorMessage } from '../util/errors';
import { Cidr, parseCidr } from '../netmon/addr';

export function clusterCidrs(configured: readonly Cidr[], nodes: readonly k8s.V1Node[]): { cidrs: Cidr[]; skipped: { node?: string; err: string }[] } {
  const cidrs = new Map<string, Cidr>();
  const skipped: { node?: string; err: string }[] = [];
  for (const c of configured) cidrs.set(c.text, c);
  for (const n of nodes) {
    const podCidrs = n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []);
    const addresses = (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address);
    for (const r of [...podCidrs, ...addresses]) {
      try {
        const c = parseCidr(r, `address of node ${n.metadata?.name}`);
        cidrs.set(c.text, c);
      } catch (e) {
        skipped.push({ node: n.metadata?.name, err: errorMessage(e) });
      }
    }
  }
  return { cidrs: [...cidrs.values()], skipped };
}
