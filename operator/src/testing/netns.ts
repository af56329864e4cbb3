// A small node, built with ip netns + veth in the host namespace (where hive
// runs, as on a real node): "pods" in their own namespaces behind host-side
// veths, a "cluster" peer and an "external" peer the same way. Every host veth
// forwards (per-interface IPv4 forwarding: the host's other interfaces and
// the global switch stay as they were). Traffic only flows between these
// namespaces. destroy() removes every namespace and veth it made.
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { rootSkip, skipReason, unitOnly } from './require';

export interface Host {
  /** Namespace name, and the host-side veth (same name). */
  ns: string;
  ip: string;
  gateway: string;
  hostVeth: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function tc(...args: string[]): string {
  return execFileSync('tc', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function ifindexOf(name: string): number {
  return Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
}

/** Why the netns suite cannot run here, or false (see require.ts). */
export function netnsSkip(): string | false {
  const missing = unitOnly() || rootSkip('to create network namespaces');
  if (missing) return missing;
  try {
    ip('netns', 'list');
  } catch {
    return skipReason('needs iproute2 (ip netns)');
  }
  return false;
}

export class Topology {
  readonly hosts = new Map<string, Host>();
  private readonly children = new Set<ChildProcess>();

  /** prefix: short and unique (interface names are at most 15 bytes). */
  constructor(readonly prefix = `hv${process.pid % 100000}`) {}

  /** Adds a namespace with `cidr`'s .2 behind a host veth with its .1 (a /24). */
  add(name: string, net24: string): Host {
    const ns = `${this.prefix}${name}`;
    const h: Host = { ns, ip: `${net24}.2`, gateway: `${net24}.1`, hostVeth: ns };
    this.hosts.set(name, h);
    ip('netns', 'add', ns);
    ip('link', 'add', h.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('addr', 'add', `${h.gateway}/24`, 'dev', h.hostVeth);
    ip('link', 'set', h.hostVeth, 'up');
    fs.writeFileSync(`/proc/sys/net/ipv4/conf/${h.hostVeth}/forwarding`, '1');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'route', 'add', 'default', 'via', h.gateway);
    return h;
  }

  /** Removes one namespace and its veth pair. */
  remove(name: string): void {
    const h = this.hosts.get(name);
    if (!h) return;
    this.hosts.delete(name);
    try {
      ip('link', 'del', h.hostVeth);
    } catch {
      // went with its namespace already
    }
    try {
      ip('netns', 'del', h.ns);
    } catch {
      // already gone
    }
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name} in the topology`);
    return h;
  }

  /** Runs `node -e script` in a namespace to completion. */
  run(name: string, script: string, args: string[] = [], timeoutMs = 10000): Promise<{ pid: number; code: number | null; stdout: string; stderr: string }> {
    return this.runCommand(name, [process.execPath, '-e', script, ...args], timeoutMs);
  }

  /** Runs a command in a namespace to completion; pid is the command's (ip netns exec execs it in place). */
  runCommand(name: string, argv: string[], timeoutMs = 10000): Promise<{ pid: number; code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', this.host(name).ns, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ pid: child.pid ?? -1, code, stdout, stderr });
      });
    });
  }

  /** Starts `node -e script` in a namespace and resolves once it prints a line (e.g. "listening"). */
  serve(name: string, script: string): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', this.host(name).ns, process.execPath, '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      this.children.add(child);
      child.once('error', reject);
      child.stdout.once('data', () => resolve(child));
      child.once('exit', (code) => reject(new Error(`server in ${name} exited (${code}) before it was ready`)));
    });
  }

  /**
   * The usual small node: a pod, a cluster peer 'c' and an external peer 'x'
   * (each a /24 given by its first three octets), both peers serving TCP on
   * `port` at their .2 address.
   */
  async podAndPeers(nets: { pod: string; cluster: string; external: string }, port: number, podName = 'a'): Promise<void> {
    this.add(podName, nets.pod);
    this.add('c', nets.cluster);
    this.add('x', nets.external);
    await this.serve('x', TCP_SERVER(`${nets.external}.2`, port));
    await this.serve('c', TCP_SERVER(`${nets.cluster}.2`, port));
  }

  destroy(): void {
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    for (const name of [...this.hosts.keys()]) this.remove(name);
  }
}

/** TCP server: answers every connection with "hello\n" and closes. */
export const TCP_SERVER = (addr: string, port: number) =>
  `require('net').createServer((s)=>{s.on('error',()=>{});s.end('hello\\n')}).listen(${port},'${addr}',()=>console.log('listening'))`;

/** UDP echo server. */
export const UDP_SERVER = (addr: string, port: number) =>
  `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(m,r.port,r.address));s.bind(${port},'${addr}',()=>console.log('listening'))`;

/** TCP client: prints its pid and what it read as JSON; exit 0 on success, 3 on failure or timeout. */
export const TCP_CLIENT = (addr: string, port: number, timeoutMs = 1500) =>
  `const net=require('net');let data='';let port;const s=net.connect({host:'${addr}',port:${port}},()=>port=s.localPort);` +
  `const t=setTimeout(()=>{console.log(JSON.stringify({pid:process.pid,error:'timeout'}));process.exit(3)},${timeoutMs});` +
  `s.on('data',(d)=>data+=d);s.on('error',(e)=>{console.log(JSON.stringify({pid:process.pid,error:e.code}));process.exit(3)});` +
  `s.on('close',()=>{clearTimeout(t);console.log(JSON.stringify({pid:process.pid,port,data}));process.exit(data?0:3)})`;

/** UDP client: sends one datagram, waits for the echo; prints its pid and source port. */
export const UDP_CLIENT = (addr: string, port: number, timeoutMs = 1500) =>
  `const s=require('dgram').createSocket('udp4');` +
  `const t=setTimeout(()=>{console.log(JSON.stringify({pid:process.pid,error:'timeout'}));process.exit(3)},${timeoutMs});` +
  `s.on('message',(m)=>{clearTimeout(t);console.log(JSON.stringify({pid:process.pid,port:s.address().port,data:String(m)}));process.exit(0)});` +
  `s.bind(0,()=>s.send('ping',${port},'${addr}'))`;

/** An Ethernet + IPv4 + TCP SYN frame (for BPF_PROG_TEST_RUN of the TC programs). */
export function synFrame(srcIp16: Buffer, dstIp16: Buffer, sport = 40000, dport = 443): Buffer {
  const b = Buffer.alloc(14 + 20 + 20);
  b.writeUInt16BE(0x0800, 12); // IPv4
  b[14] = 0x45; // version 4, 20-byte header
  b.writeUInt16BE(40, 16); // total length
  b[22] = 64; // TTL
  b[23] = 6; // TCP
  srcIp16.copy(b, 26, 12); // the IPv4 part of the mapped form
  dstIp16.copy(b, 30, 12);
  b.writeUInt16BE(sport, 34);
  b.writeUInt16BE(dport, 36);
  b[46] = 0x50; // data offset 5 words
  b[47] = 0x02; // SYN
  return b;
}
