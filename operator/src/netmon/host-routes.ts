// Which host interface carries a pod address: the kernel's main routing
// table as /proc/net/route and /proc/net/ipv6_route show it (longest prefix,
// then lowest metric). Pure parsing; the files are read by the caller so the
// tests can feed recorded tables.
import { inPrefix, isIpv4Mapped } from './addr';

export interface Route {
  iface: string;
  /** 16-byte network in the mapped form, and its prefix length in that form. */
  net: Buffer;
  prefixLen: number;
  metric: number;
}

const RTF_UP = 0x1;

/** /proc/net/route: IPv4, addresses as the kernel's u32 in hex (little-endian on the host). */
export function parseRoute4(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const c = line.trim().split(/\s+/);
    if (c.length < 8) continue;
    const flags = parseInt(c[3], 16);
    if (!(flags & RTF_UP)) continue;
    const dest = Buffer.alloc(4);
    dest.writeUInt32LE(parseInt(c[1], 16) >>> 0);
    const mask = Buffer.alloc(4);
    mask.writeUInt32LE(parseInt(c[7], 16) >>> 0);
    let len = 0;
    for (const byte of mask) for (let b = 7; b >= 0; b--) if (byte & (1 << b)) len++;
    const net = Buffer.alloc(16);
    net[10] = net[11] = 0xff;
    dest.copy(net, 12);
    out.push({ iface: c[0], net, prefixLen: 96 + len, metric: parseInt(c[6], 10) });
  }
  return out;
}

/** /proc/net/ipv6_route: dest, dest len, src, src len, next hop, metric, refcnt, use, flags, iface. */
export function parseRoute6(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n')) {
    const c = line.trim().split(/\s+/);
    if (c.length < 10) continue;
    const flags = parseInt(c[8], 16);
    if (!(flags & RTF_UP) || c[9] === 'lo') continue;
    out.push({ iface: c[9], net: Buffer.from(c[0], 'hex'), prefixLen: parseInt(c[1], 16), metric: parseInt(c[5], 16) });
  }
  return out;
}

/** The interface the host would send `addr` (16-byte form) out of, if any route matches. */
export function routeInterface(addr: Buffer, routes: Route[]): string | undefined {
  const v4 = isIpv4Mapped(addr);
  let best: Route | undefined;
  for (const r of routes) {
    if (isIpv4Mapped(r.net) !== v4 || !inPrefix(addr, r.net, r.prefixLen)) continue;
    if (!best || r.prefixLen > best.prefixLen || (r.prefixLen === best.prefixLen && r.metric < best.metric)) best = r;
  }
  return best?.iface;
}
