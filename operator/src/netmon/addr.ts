// Addresses and CIDRs as the kernel maps hold them: 16 bytes, IPv4 as
// IPv4-mapped IPv6 (::ffff:a.b.c.d), so one map key serves both families.
// Parsing and prefix math are ipaddr.js's; only the mapping is ours.
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { UsageError } from '../util/errors';

export interface Cidr {
  /** The network as written by the user, normalised (e.g. "10.0.0.0/8"). */
  text: string;
  addr: Buffer;
  /** Prefix length in the 16-byte form (IPv4 /n is 96 + n). */
  prefixLen: number;
}

/** "10.1.2.3" or "fd00::1" -> 16 bytes; throws UsageError naming `what`. */
export function parseIp(text: string, what = 'IP address'): Buffer {
  // net.isIP is strict (no "10.1.2" or octal forms, which ipaddr.js accepts).
  if (typeof text !== 'string' || net.isIP(text) === 0) {
    throw new UsageError(`invalid ${what} '${text}': expected an IPv4 or IPv6 address such as 10.0.0.5 or fd00::5`);
  }
  const a = ipaddr.parse(text);
  return Buffer.from(a.kind() === 'ipv4' ? (a as ipaddr.IPv4).toIPv4MappedAddress().toByteArray() : a.toByteArray());
}

/** "10.0.0.0/8" or "fd00::/64" (a bare address is a /32 or /128). */
export function parseCidr(text: string, what = 'CIDR'): Cidr {
  const bad = () =>
    new UsageError(`invalid ${what} '${text}': expected an address/prefix such as 10.0.0.0/8 or fd00::/64`);
  if (typeof text !== 'string') throw bad();
  const [addrText, lenText, extra] = text.split('/');
  const family = net.isIP(addrText);
  if (family === 0 || extra !== undefined) throw bad();
  const v4 = family === 4;
  const full = lenText === undefined ? `${addrText}/${v4 ? 32 : 128}` : text;
  let network: ipaddr.IPv4 | ipaddr.IPv6;
  let len: number;
  try {
    // ipaddr.js checks the prefix (digits, within the family's width) and clears
    // the host bits, so "10.1.2.3/8" and "10.0.0.0/8" are one key
    [, len] = v4 ? ipaddr.IPv4.parseCIDR(full) : ipaddr.IPv6.parseCIDR(full);
    network = v4 ? ipaddr.IPv4.networkAddressFromCIDR(full) : ipaddr.IPv6.networkAddressFromCIDR(full);
  } catch {
    throw bad();
  }
  const bytes = Buffer.from(network.kind() === 'ipv4' ? (network as ipaddr.IPv4).toIPv4MappedAddress().toByteArray() : network.toByteArray());
  return { text: `${formatIp(bytes)}/${len}`, addr: bytes, prefixLen: v4 ? 96 + len : len };
}

/** 16 bytes -> "10.1.2.3" for mapped IPv4, RFC 5952 text for IPv6. */
export function formatIp(b: Buffer | Uint8Array): string {
  const a = ipaddr.fromByteArray(Array.from(b.subarray(0, 16))) as ipaddr.IPv6;
  return a.isIPv4MappedAddress() ? a.toIPv4Address().toString() : a.toString();
}

export function isIpv4Mapped(b: Buffer): boolean {
  return (ipaddr.fromByteArray(Array.from(b.subarray(0, 16))) as ipaddr.IPv6).isIPv4MappedAddress();
}

/** Whether `addr` is inside `net`/`prefixLen`, all in the 16-byte form. */
export function inPrefix(addr: Buffer, net: Buffer, prefixLen: number): boolean {
  const v6 = (b: Buffer) => ipaddr.fromByteArray(Array.from(b.subarray(0, 16))) as ipaddr.IPv6;
  return v6(addr).match(v6(net), prefixLen);
}
