// A trace's explanation on this node, for its status: what each selected
// container's paths resolve to (resolve/explain.ts, the same resolution a
// live watch gets) and, for its network part, which pod addresses would be
// monitored and the host interface their route leaves by. Used for dry runs,
// which attach nothing: no watch registry entry, no kernel map entry, no TC
// filter; and for a live trace's paths that could not be watched. Bounded: the first MAX_EXPLAIN_ENTRIES entries in (pod, container,
// path, file) order, the rest counted.
import fs from 'node:fs';
import { explainPatterns, hopText, hostRootOf, mountText } from '../resolve/explain';
import { MAX_EXPLAIN_ENTRIES } from '../kube/hivetrace-schema';
import { parseRoute4, parseRoute6, routeInterface, Route } from '../netmon/host-routes';
import type { ExplainReport, NodeReport } from './status-writer';
import type { NetSelection } from './network-registry';
import { native } from '../sys/addon';

type Entry = ExplainReport['entries'][number];
type Unresolved = NodeReport['unresolved'][number];

/** Entries kept for sorting before the bound is applied (a huge glob cannot make the list huge). */
const COLLECT_AT_MOST = 1000;
const VIA_AT_MOST = 8;

export class Explanation {
  private readonly entries: Entry[] = [];
  private dropped = 0;
  private files = 0;
  private podAddresses = 0;
  private routes: Route[] | undefined;

  constructor(
    private readonly o: {
      hostProc: string;
      maxMatches: number;
      limit?: number;
      procNet?: string;
      /** ethtool's driver of an interface ("veth", "bridge", ...; null when gone): the addon's by default. */
      linkDriver?: (name: string) => string | null;
    },
  ) {}

  private push(e: Entry): void {
    if (this.entries.length < COLLECT_AT_MOST) this.entries.push(e);
    else this.dropped++;
  }

  /** Explains `patterns` in the root of `pid`; returns what did not resolve, as the reconciler reports it. */
  container(pod: string, container: string, pid: number, patterns: string[]): Unresolved[] {
    const hp = this.o.hostProc;
    const explained = explainPatterns(`${hp}/${pid}/root`, patterns, { maxMatches: this.o.maxMatches, procDir: `${hp}/${pid}`, hostRoot: hostRootOf(hp) });
    const unresolved: Unresolved[] = [];
    const seen = new Set<string>();
    for (const e of explained) {
      const at = { pod, container, path: e.path };
      if (e.state !== 'ok' || e.files.length === 0) {
        const reason = e.reason ?? e.state;
        this.push({ ...at, ...(e.hops.length ? { hops: e.hops.length, via: e.hops.slice(0, VIA_AT_MOST).map((h) => hopText(h, true)) } : {}), reason });
        unresolved.push({ ...at, reason });
        continue;
      }
      for (const f of e.files) {
        if (!seen.has(`${f.dev}:${f.ino}`)) this.files++;
        seen.add(`${f.dev}:${f.ino}`);
        this.push({
          ...at,
          ...(f.path !== e.path ? { file: f.path } : {}),
          ...(f.final ? { final: f.final } : {}),
          inode: f.ino,
          dev: f.dev,
          hops: f.hops.length,
          ...(f.hops.length ? { via: f.hops.slice(0, VIA_AT_MOST).map((h) => hopText(h, true)) } : {}),
          ...(f.mount ? { mount: mountText(f.mount) } : {}),
        });
      }
      if (e.truncated) unresolved.push({ ...at, reason: `${e.truncated.seen} matches, only the first ${e.truncated.limit} would be watched (--max-matches)` });
    }
    return unresolved;
  }

  /**
   * The pod addresses a live trace would monitor, and the interface their
   * route leaves by: a veth, or a bridge (then its veth ports), carries the
   * filters; any other interface carries none (as the interface tracker decides).
   */
  network(selected: NetSelection[]): void {
    const driverOf = this.o.linkDriver ?? ((n: string) => native().linkDriver(n));
    for (const s of selected) {
      this.podAddresses++;
      const via = routeInterface(s.addr, this.hostRoutes());
      const driver = via ? driverOf(via) : null;
      const at = { pod: s.pod.name, container: '*', path: 'network', address: s.ip, ...(via ? { interface: via } : {}) };
      if (driver === 'veth' || driver === 'bridge') this.push(at);
      else
        this.push({
          ...at,
          reason: via
            ? `routed via ${via}, not a pod veth or bridge: no filter would carry it until a route leads to one`
            : 'no route to it on this host: no filter would carry it until one leads to a pod veth or bridge',
        });
    }
  }

  private hostRoutes(): Route[] {
    if (!this.routes) {
      const read = (f: string) => {
        try {
          return fs.readFileSync(`${this.o.procNet ?? '/proc/net'}/${f}`, 'utf8');
        } catch {
          return '';
        }
      };
      this.routes = [...parseRoute4(read('route')), ...parseRoute6(read('ipv6_route'))];
    }
    return this.routes;
  }

  /** The bounded list; `counts`: a live trace's own figures (what it watches), in place of what was explained. */
  report(counts?: { files: number; podAddresses: number }): ExplainReport {
    const limit = this.o.limit ?? MAX_EXPLAIN_ENTRIES;
    const key = (e: Entry) => [e.pod, e.container, e.path, e.file ?? '', e.address ?? ''];
    const sorted = [...this.entries].sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
      return 0;
    });
    return { entries: sorted.slice(0, limit), omitted: Math.max(0, sorted.length - limit) + this.dropped, ...(counts ?? { files: this.files, podAddresses: this.podAddresses }) };
  }
}
