// One real Kubernetes node on this machine, from the parts kind uses: the
// test API server (test/cluster, started with --node), kube-controller-manager
// (DaemonSet, ServiceAccount, node IPAM, root CA publisher), kube-scheduler, a
// kubelet (cgroupfs driver: cgroup v1, no systemd) on Debian's containerd with
// the CRI plugin at the standard socket, and Debian's CNI bridge + host-local
// plugins giving pods veths and IPs from the node's podCIDR (containerd writes
// the CNI config from a template once the kubelet passes it the podCIDR that
// the controller-manager allocated). Each daemon runs detached with a pid file
// in the node directory, so `make node-up` can exit and `make node-down` (or
// a test's after()) stops them by pid, in the order that leaves no veth,
// network namespace or mount behind. Images come from no registry: a pause
// image and busybox:1.36 (the demo pod's) are built here and imported.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { CriClient } from '../runtime/cri';
import { TestCluster, clusterSkip } from './cluster';
import { busyboxImageArchive } from './oci-image';
import { CNI_BIN, containerdConfig } from './containerd-config';
import { commandSkip, rootSkip, skipReason } from './require';

const ROOT = path.resolve(__dirname, '../../..');
export const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
export const DEMO_IMAGE = 'docker.io/library/busybox:1.36';
/** The cluster's pod range; the controller-manager gives each node a /24 of it. */
export const CLUSTER_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
const BRIDGE = 'cni0';
const DAEMONS = ['containerd', 'kube-controller-manager', 'kube-scheduler', 'kubelet'] as const;
type Daemon = (typeof DAEMONS)[number];

/** Why a real node cannot run here, or false (see require.ts). */
export function nodeSkip(): string | false {
  return (
    clusterSkip() ||
    rootSkip('to run a kubelet and containerd') ||
    commandSkip(['containerd', 'runc', 'ctr', 'ip', 'tar'], 'make deps installs containerd, runc and iproute2') ||
    (fs.existsSync(path.join(CNI_BIN, 'bridge')) ? false : skipReason(`needs ${CNI_BIN}/bridge (Debian containernetworking-plugins)`)) ||
    (fs.existsSync('/bin/busybox') ? false : skipReason('needs /bin/busybox (Debian busybox-static)'))
  );
}

export interface NodeOptions {
  clusterDir?: string;
  nodeDir?: string;
  log?: (msg: string) => void;
}

export class RealNode {
  readonly cri: CriClient;
  /** True when up() started the kubelet (and so this caller should take the node down again). */
  started = false;
  /** True when up() started the API server. */
  startedCluster = false;

  private constructor(
    private readonly api: TestCluster | null,
    readonly dir: string,
    readonly name: string,
    readonly ip: string,
    private readonly bins: string,
  ) {
    this.cri = new CriClient(CONTAINERD_SOCKET, 30_000); // a loaded machine: see containerd-harness.ts
  }

  get cluster(): TestCluster {
    if (!this.api) throw new Error('node: no API server attached');
    return this.api;
  }

  /** The node started in nodeDir (for down: the API server may be gone already). */
  static attach(opts: NodeOptions = {}): RealNode {
    const { clusterDir, nodeDir } = RealNode.defaults(opts);
    const api = fs.existsSync(path.join(clusterDir, 'kubeconfig')) ? TestCluster.attach(clusterDir) : null;
    return new RealNode(api, nodeDir, nodeName(), '', '');
  }

  static defaults(opts: NodeOptions = {}): { clusterDir: string; nodeDir: string } {
    return {
      clusterDir: opts.clusterDir ?? process.env.HIVE_CLUSTER_DIR ?? '/tmp/hive-cluster',
      nodeDir: opts.nodeDir ?? process.env.HIVE_NODE_DIR ?? '/tmp/hive-node',
    };
  }

  /** Brings the API server (with --node) and the node up, reusing what already runs; resolves once the node is Ready. */
  static async up(opts: NodeOptions = {}): Promise<RealNode> {
    const { clusterDir, nodeDir } = RealNode.defaults(opts);
    const log = opts.log ?? ((m: string) => process.stderr.write(`node: ${m}\n`));
    fs.mkdirSync(nodeDir, { recursive: true });
    const pre = RealNode.attach({ clusterDir, nodeDir });
    if (DAEMONS.every((d) => !pre.pid(d)) && pre.removeLeftovers(log) && RealNode.clusterRunning(clusterDir)) {
      // its objects describe the node that died (pods Running on it): a new node starts with a new API server
      log(`stopping the API server of the node that died (${clusterDir})`);
      TestCluster.attach(clusterDir).stop();
    }
    pre.cri.close();
    const runningCluster = RealNode.clusterRunning(clusterDir);
    const cluster = RealNode.ensureCluster(clusterDir, log);
    const bins = path.dirname(
      execFileSync('bash', [path.join(ROOT, 'test/cluster/build.sh'), '--quiet', '--node'], {
        stdio: ['ignore', 'pipe', 'inherit'],
        timeout: 60 * 60 * 1000,
      })
        .toString()
        .trim()
        .split('\n')
        .pop()!,
    );
    const node = new RealNode(cluster, nodeDir, nodeName(), nodeIP(), bins);
    node.startedCluster = !runningCluster;
    node.started = !node.pid('kubelet');
    // Interrupted while starting: stop what this call started, then go.
    const onSignal = (sig: NodeJS.Signals) => {
      void node.undoStart(log).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    try {
      await node.start(log);
    } catch (e) {
      // A failed start leaves nothing running that it started: the next run
      // must not find a half-started node (or this run's logs) and fail on it.
      await node.undoStart(log).catch((err: Error) => log(`stopping after a failed start: ${err.message}`));
      throw e;
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }
    return node;
  }

  /** Stops the node and, if this call started it, the API server: after a failed or interrupted start. */
  private async undoStart(log: (m: string) => void): Promise<void> {
    await this.down(log);
    if (this.startedCluster && this.api) this.api.stop();
  }

  private static clusterRunning(dir: string): boolean {
    const pid = readPid(path.join(dir, 'apiserver.pid'));
    return pid !== null && alive(pid, 'hive-test-apiserver');
  }

  /**
   * What a node that died (or was killed with its test) leaves behind while
   * none of its daemons runs: pid files, shims of the socket, pod network
   * namespaces and veths, the bridge, the kubelet's mounts. Removed, each
   * named in one line, before a new node starts, so it never fails later on
   * stale state. Whether there was any.
   */
  removeLeftovers(log: (m: string) => void): boolean {
    const found: string[] = [];
    for (const d of DAEMONS) {
      if (fs.existsSync(this.pidFile(d))) {
        fs.rmSync(this.pidFile(d), { force: true });
        found.push(`${d}.pid`);
      }
    }
    const shims = this.killShims();
    if (shims) found.push(`${shims} containerd shim(s)`);
    const netns = fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns').filter((n) => n.startsWith('cni-')) : [];
    for (const n of netns) {
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {
        // gone meanwhile
      }
    }
    if (netns.length) found.push(`${netns.length} pod network namespace(s)`);
    const mounts = this.unmountLeftovers();
    if (mounts) found.push(`${mounts} mount(s)`);
    if (this.deleteBridge()) found.push(`bridge ${BRIDGE}`);
    if (found.length) log(`removed what an earlier node left behind: ${found.join(', ')}`);
    return found.length > 0;
  }

  private static ensureCluster(dir: string, log: (m: string) => void): TestCluster {
    const pid = readPid(path.join(dir, 'apiserver.pid'));
    if (pid && alive(pid, 'hive-test-apiserver')) {
      if (!cmdline(pid).includes('--node')) {
        throw new Error(`the API server in ${dir} (pid ${pid}) runs without --node (no ServiceAccount admission, no kubelet client): run 'make cluster-down' first`);
      }
      return TestCluster.attach(dir);
    }
    log(`starting the API server in ${dir}`);
    fs.rmSync(dir, { recursive: true, force: true });
    return TestCluster.start(undefined, dir, ['--node']);
  }

  private pidFile(d: Daemon): string {
    return path.join(this.dir, `${d}.pid`);
  }

  /** The daemon's pid while it runs (started by us: the pid file and its command line agree). */
  pid(d: Daemon): number | null {
    const pid = readPid(this.pidFile(d));
    return pid && alive(pid, d) ? pid : null;
  }

  private spawnDaemon(d: Daemon, bin: string, args: string[]): number {
    // A new log per start: an error quoting it must show this start's lines.
    const logFd = fs.openSync(path.join(this.dir, `${d}.log`), 'w');
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    child.unref();
    // how it ended, while this process is there to see it: a daemon that dies before its first log line says no more
    this.exits.delete(d);
    child.once('exit', (code, signal) => this.exits.set(d, signal ? `killed by ${signal}` : `exit status ${code}`));
    if (!child.pid) throw new Error(`could not start ${d} (${bin})`);
    fs.writeFileSync(this.pidFile(d), `${child.pid}\n`);
    return child.pid;
  }

  /** How each daemon this process started ended, if it did. */
  private readonly exits = new Map<Daemon, string>();

  /** "<daemon> exited (how): <its log's last lines>". */
  private exitedText(d: Daemon): string {
    return `${d} exited (${this.exits.get(d) ?? 'not our child: status unknown'}): ${this.logTail(d) || '(empty log)'}`;
  }

  logTail(d: Daemon, n = 20): string {
    try {
      return fs.readFileSync(path.join(this.dir, `${d}.log`), 'utf8').trim().split('\n').slice(-n).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private async start(log: (m: string) => void): Promise<void> {
    await this.startContainerd(log);
    this.importImages();
    const admin = this.cluster.kubeconfig;
    const ca = path.join(this.cluster.dir, 'pki/ca.crt');
    if (!this.pid('kube-controller-manager')) {
      log('starting kube-controller-manager');
      this.spawnDaemon('kube-controller-manager', path.join(this.bins, 'kube-controller-manager'), [
        `--kubeconfig=${admin}`,
        '--leader-elect=false',
        '--secure-port=0',
        '--use-service-account-credentials=false',
        `--root-ca-file=${ca}`,
        '--allocate-node-cidrs=true',
        `--cluster-cidr=${CLUSTER_CIDR}`,
        '--node-cidr-mask-size=24',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
      ]);
    }
    if (!this.pid('kube-scheduler')) {
      log('starting kube-scheduler');
      this.spawnDaemon('kube-scheduler', path.join(this.bins, 'kube-scheduler'), [`--kubeconfig=${admin}`, '--leader-elect=false', '--secure-port=0']);
    }
    if (!this.pid('kubelet')) {
      log(`starting the kubelet (node ${this.name}, ${this.ip})`);
      const config = path.join(this.dir, 'kubelet.yaml');
      fs.writeFileSync(config, kubeletConfig(ca));
      this.spawnDaemon('kubelet', path.join(this.bins, 'kubelet'), [
        `--config=${config}`,
        `--kubeconfig=${admin}`,
        `--hostname-override=${this.name}`,
        `--node-ip=${this.ip}`,
        '--v=1',
      ]);
    }
    await this.waitReady();
    log(`node ${this.name} Ready, pod CIDR ${await this.podCIDR()}`);
  }

  private async startContainerd(log: (m: string) => void): Promise<void> {
    if (!this.pid('containerd')) {
      if (fs.existsSync(CONTAINERD_SOCKET)) {
        try {
          await this.cri.version();
          throw new Error(`a containerd not started by node-up already serves ${CONTAINERD_SOCKET}: stop it first (the node uses the standard socket, as the DaemonSet mounts it)`);
        } catch (e) {
          if ((e as Error).message.startsWith('a containerd')) throw e;
          fs.rmSync(CONTAINERD_SOCKET, { force: true }); // stale socket of a dead containerd
        }
      }
      log('starting containerd');
      const config = path.join(this.dir, 'containerd.toml');
      fs.mkdirSync(path.join(this.dir, 'cni'), { recursive: true });
      fs.writeFileSync(path.join(this.dir, 'cni-template.json'), cniTemplate());
      fs.writeFileSync(
        config,
        containerdConfig({
          root: '/var/lib/containerd',
          state: '/run/containerd',
          socket: CONTAINERD_SOCKET,
          sandboxImage: PAUSE_IMAGE,
          cniConfDir: path.join(this.dir, 'cni'),
          cniTemplate: path.join(this.dir, 'cni-template.json'),
        }),
      );
      this.spawnDaemon('containerd', 'containerd', ['--config', config]);
    }
    await until(
      async () => {
        if (!this.pid('containerd')) throw new Error(this.exitedText('containerd'));
        try {
          await this.cri.version();
          return true;
        } catch {
          return false;
        }
      },
      20000,
      'containerd answering CRI',
    );
  }

  /** ctr against the node's containerd, namespace k8s.io (the kubelet's). */
  ctr(...args: string[]): string {
    return execFileSync('ctr', ['-a', CONTAINERD_SOCKET, '-n', 'k8s.io', ...args], { stdio: 'pipe' }).toString();
  }

  private importImages(): void {
    // The pause image is also the demo's busybox: both are a busybox root;
    // a sandbox only needs a process that sleeps.
    const archive = busyboxImageArchive(path.join(this.dir, 'image'), {
      names: [PAUSE_IMAGE, DEMO_IMAGE],
      applets: 'all',
      cmd: ['/bin/sleep', '2147483647'],
    });
    this.ctr('images', 'import', archive);
  }

  async node(): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = await this.cluster.request('GET', `/api/v1/nodes/${this.name}`);
    if (r.status !== 200) throw new Error(`GET node ${this.name}: ${r.status}`);
    return r.body;
  }

  async podCIDR(): Promise<string | undefined> {
    return (await this.node()).spec?.podCIDR as string | undefined;
  }

  private async waitReady(): Promise<void> {
    await until(
      async () => {
        for (const d of DAEMONS) if (!this.pid(d)) throw new Error(this.exitedText(d));
        const r = await this.cluster.request('GET', `/api/v1/nodes/${this.name}`);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const ready = (r.body as any).status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
        return r.status === 200 && ready?.status === 'True';
      },
      120000,
      `node ${this.name} Ready`,
    );
  }

  /**
   * Stops the node: the kubelet first (nothing restarts pods), then every pod
   * sandbox through CRI (containerd runs CNI DEL: veths and network namespaces
   * go), containerd and the shims of its socket, the controllers; then the
   * kubelet's leftover mounts. The API server keeps running (make cluster-down).
   */
  async down(log: (m: string) => void = () => undefined): Promise<void> {
    await this.stopDaemon('kubelet', log);
    if (this.pid('containerd')) {
      try {
        const ids = this.ctr('containers', 'list', '-q', 'labels."io.cri-containerd.kind"==sandbox').split('\n').filter(Boolean);
        for (const id of ids) {
          await this.cri.stopPodSandbox(id).catch(() => undefined);
          await this.cri.removePodSandbox(id).catch(() => undefined);
        }
      } catch (e) {
        log(`listing sandboxes: ${(e as Error).message}`);
      }
    }
    this.cri.close();
    await this.stopDaemon('containerd', log);
    this.killShims();
    await this.stopDaemon('kube-controller-manager', log);
    await this.stopDaemon('kube-scheduler', log);
    this.unmountLeftovers();
    this.deleteBridge();
  }

  /** SIGKILLs the containerd shims of the node's socket; how many. */
  private killShims(): number {
    let n = 0;
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes('containerd-shim') && cmd.includes(CONTAINERD_SOCKET)) {
          process.kill(Number(pid), 'SIGKILL');
          n++;
        }
      } catch {
        // gone meanwhile
      }
    }
    return n;
  }

  /** Lazily unmounts what the kubelet and containerd mounted; how many. */
  private unmountLeftovers(): number {
    const mounts = fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m && (m.startsWith('/var/lib/kubelet/') || m.startsWith('/run/containerd/io.containerd.')))
      .reverse();
    let n = 0;
    for (const m of mounts) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
        n++;
      } catch {
        // already gone
      }
    }
    return n;
  }

  /** Deletes the CNI bridge; whether there was one. */
  private deleteBridge(): boolean {
    try {
      execFileSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
      return true;
    } catch {
      return false; // no bridge (no pod ever ran)
    }
  }

  private async stopDaemon(d: Daemon, log: (m: string) => void): Promise<void> {
    const pid = this.pid(d);
    if (pid) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 15000;
      while (alive(pid, d) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (alive(pid, d)) process.kill(pid, 'SIGKILL');
      log(`stopped ${d} (pid ${pid})`);
    }
    fs.rmSync(this.pidFile(d), { force: true });
  }

  /** Stops containerd hard (no SIGTERM grace), as a crash would, and starts it again with the same config. */
  async restartContainerd(): Promise<void> {
    const pid = this.pid('containerd');
    if (pid) {
      process.kill(pid, 'SIGKILL');
      while (alive(pid, 'containerd')) await new Promise((r) => setTimeout(r, 50));
    }
    fs.rmSync(this.pidFile('containerd'), { force: true });
    fs.rmSync(CONTAINERD_SOCKET, { force: true });
    await this.startContainerd(() => undefined);
  }
}

/** Polls `cond` every 200 ms until it is true; its exceptions end the wait. */
export async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The node's IPv4 address: the first global address of the default route's interface. */
function nodeIP(): string {
  const routes = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'default']).toString() || '[]') as { dev: string }[];
  const devs = routes.map((r) => r.dev);
  const addrs = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show', 'scope', 'global']).toString()) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  const pick = addrs.find((a) => devs.includes(a.ifname)) ?? addrs.find((a) => a.ifname !== BRIDGE && !a.ifname.startsWith('cni'));
  const ip = pick?.addr_info[0]?.local;
  if (!ip) throw new Error('node: no global IPv4 address for the kubelet (it refuses a loopback node IP)');
  return ip;
}

/** The host's name as a node name (lower case, DNS-1123). */
function nodeName(): string {
  const n = os.hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return n || 'hive-node';
}

function readPid(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Alive (not a zombie) and still the program we started (pids get reused). */
function alive(pid: number, program: string): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\S+ \(.*\) Z /.test(stat)) return false;
  } catch {
    return false;
  }
  const argv0 = cmdline(pid).split(' ')[0] ?? '';
  return path.basename(argv0) === program;
}

/** containerd fills in the node's podCIDR (from the kubelet, from the controller-manager's IPAM). */
function cniTemplate(): string {
  return `{
  "cniVersion": "0.4.0",
  "name": "hive-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [{{range $i, $range := .PodCIDRRanges}}{{if $i}}, {{end}}[{"subnet": "{{$range}}"}]{{end}}],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
`;
}

/**
 * cgroupfs (no systemd), cgroup v1 allowed (kubepods/{burstable,besteffort}
 * per-QoS cgroups and pods' allocatable enforced, as on a kubeadm node; see
 * README "Try it on one Linux host"); x509 client certs of
 * the cluster CA and webhook authorization, so the API server's kubelet
 * client (system:masters) may read logs and exec.
 */
function kubeletConfig(ca: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
containerRuntimeEndpoint: unix://${CONTAINERD_SOCKET}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${ca}
authorization:
  mode: Webhook
readOnlyPort: 0
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
`;
}
