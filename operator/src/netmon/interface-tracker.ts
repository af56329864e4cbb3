// Finds the host-side interfaces that carry the selected pods' addresses and
// keeps the monitor attached to exactly those: a pod address is routed out
// of a veth (routed CNIs: Calico, Cilium, ptp) or a bridge (bridge CNIs:
// then every veth port of the bridge, since the pods map filters anyway).
// Interfaces that appear later are picked up by rescan(), which runs on a
// timer and whenever the caller knows something changed (pod events); ones
// that vanish are dropped. Nothing here stops on one bad interface.
import fs from 'node:fs';
import path from 'node:path';
import { Logger } from '../util/log';
import { errorMessage } from '../util/errors';
import { native } from '../sys/addon';
import { formatIp } from './addr';
import { parseRoute4, parseRoute6, routeInterface, Route } from './host-routes';
import type { NetMonitor } from './net-monitor';

export interface TrackerOptions {
  procNet?: string;
  sysNet?: string;
  rescanMs?: number;
}

export interface RescanResult {
  attached: string[];
  detached: string[];
  /** Pod addresses with no veth route (not monitored until one appears). */
  unrouted: string[];
  failed: { interface: string; error: string }[];
}

export class InterfaceTracker {
  private addrs: Buffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly procNet: string;
  private readonly sysNet: string;
  private lastUnrouted = '';

  constructor(
    private readonly monitor: Pick<NetMonitor, 'attachInterface' | 'detachInterface' | 'interfaces'>,
    private readonly log: Logger,
    private readonly opts: TrackerOptions = {},
  ) {
    this.procNet = opts.procNet ?? '/proc/net';
    this.sysNet = opts.sysNet ?? '/sys/class/net';
  }

  /** The addresses (16-byte form) whose interfaces should carry our filters. */
  setAddresses(addrs: Buffer[]): RescanResult {
    this.addrs = addrs;
    return this.rescan();
  }

  start(): void {
    this.timer ??= setInterval(() => this.rescan(), this.opts.rescanMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private read(file: string): string {
    try {
      return fs.readFileSync(path.join(this.procNet, file), 'utf8');
    } catch {
      return '';
    }
  }

  private ifindex(name: string): number | undefined {
    try {
      return Number(fs.readFileSync(path.join(this.sysNet, name, 'ifindex'), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  /** The veths behind the interface a route points at. */
  private vethsOf(iface: string): string[] {
    const driver = native().linkDriver(iface);
    if (driver === 'veth') return [iface];
    if (driver === 'bridge') {
      let ports: string[] = [];
      try {
        ports = fs.readdirSync(path.join(this.sysNet, iface, 'brif'));
      } catch {
        return [];
      }
      return ports.filter((p) => native().linkDriver(p) === 'veth');
    }
    return [];
  }

  rescan(): RescanResult {
    const res: RescanResult = { attached: [], detached: [], unrouted: [], failed: [] };
    const routes: Route[] = [...parseRoute4(this.read('route')), ...parseRoute6(this.read('ipv6_route'))];
    const want = new Map<number, string>();
    for (const a of this.addrs) {
      const via = routeInterface(a, routes);
      const veths = via ? this.vethsOf(via) : [];
      if (veths.length === 0) res.unrouted.push(formatIp(a));
      for (const v of veths) {
        const idx = this.ifindex(v);
        if (idx !== undefined) want.set(idx, v);
      }
    }
    const have = this.monitor.interfaces();
    for (const [idx, name] of have) {
      // gone, renamed/reused index, or no longer carrying a selected pod
      if (want.get(idx) === name) continue;
      this.monitor.detachInterface(idx);
      res.detached.push(name);
    }
    for (const [idx, name] of want) {
      if (have.get(idx) === name) continue;
      try {
        this.monitor.attachInterface(idx, name);
        res.attached.push(name);
      } catch (e) {
        res.failed.push({ interface: name, error: errorMessage(e) });
      }
    }
    if (res.attached.length || res.detached.length) this.log.info({ attached: res.attached, detached: res.detached }, 'pod interfaces changed');
    for (const f of res.failed) this.log.warn(f, 'cannot monitor interface');
    const unrouted = res.unrouted.join(',');
    if (unrouted && unrouted !== this.lastUnrouted) {
      this.log.warn({ addresses: res.unrouted }, 'no veth carries these pod addresses yet; watching for one');
    }
    this.lastUnrouted = unrouted;
    return res;
  }
}
