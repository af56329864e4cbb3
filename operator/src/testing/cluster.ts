// The real kube-apiserver of test/cluster for the tests: started with up.sh
// (building it once, cached outside the repo), stopped with down.sh by pid,
// and a minimal REST client that talks to it with the kubeconfig it wrote.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { parse, parseAllDocuments } from 'yaml';
import { skipReason, unitOnly } from './require';

const CLUSTER_DIR = path.resolve(__dirname, '../../../test/cluster');
const CRD = path.resolve(__dirname, '../../../config/crd/hive.io_hivetraces.yaml');

/** Why the real API server cannot run here, or false (see require.ts). */
export function clusterSkip(): string | false {
  const unit = unitOnly();
  if (unit) return unit;
  if (process.env.HIVE_TEST_CLUSTER) return false; // one already runs (TestCluster.startOrShared)
  for (const go of ['go', '/usr/local/go/bin/go']) {
    try {
      execFileSync(go, ['version'], { stdio: 'ignore' });
      return false;
    } catch {
      // try the next
    }
  }
  return skipReason('needs Go to build the test kube-apiserver (test/cluster)');
}

/** A free TCP port on 127.0.0.1 (for servers that must keep their port across restarts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface KubeResponse {
  status: number;
  body: Record<string, unknown>;
}

export class TestCluster {
  private constructor(
    readonly dir: string,
    readonly kubeconfig: string,
    private readonly server: URL,
    private readonly ca: Buffer,
    readonly adminToken: string,
    /** Started by someone else (HIVE_TEST_CLUSTER): stop() leaves it running. */
    private readonly shared = false,
  ) {}

  /**
   * The API server of HIVE_TEST_CLUSTER (the kubeconfig of one that already
   * runs: the qemu kernel matrix starts it on the host, since a Go API server
   * under emulation would take minutes, and the guest reaches it through
   * qemu's user network), else a new one as start() makes. Tests that share
   * it name their own namespaces and nodes.
   */
  static startOrShared(port?: number): TestCluster {
    const kubeconfig = process.env.HIVE_TEST_CLUSTER;
    if (!kubeconfig) return TestCluster.start(port);
    return TestCluster.open(path.dirname(kubeconfig), kubeconfig, true);
  }

  /** Starts the API server; with `port`, on that port (a restart keeps it, so kubeconfigs stay valid). */
  static start(port?: number, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-cluster-')), extra: string[] = []): TestCluster {
    let out: string;
    try {
      out = TestCluster.up(dir, port, extra);
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const kubeconfig = /export KUBECONFIG=(\S+)\s*$/.exec(out)?.[1];
    if (!kubeconfig) throw new Error(`up.sh printed no KUBECONFIG: ${out}`);
    return TestCluster.open(dir, kubeconfig);
  }

  /** The API server already running with its state in `dir` (started by up.sh). */
  static attach(dir: string): TestCluster {
    return TestCluster.open(dir, path.join(dir, 'kubeconfig'));
  }

  private static open(dir: string, kubeconfig: string, shared = false): TestCluster {
    const kc = parse(fs.readFileSync(kubeconfig, 'utf8')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { user: { token: string } }[];
    };
    const c = kc.clusters[0].cluster;
    return new TestCluster(dir, kubeconfig, new URL(c.server), Buffer.from(c['certificate-authority-data'], 'base64'), kc.users[0].user.token, shared);
  }

  private static up(dir: string, port?: number, extra: string[] = []): string {
    const args = [path.join(CLUSTER_DIR, 'up.sh'), ...(port ? ['--port', String(port)] : []), ...extra];
    return execFileSync('bash', args, {
      env: { ...process.env, HIVE_CLUSTER_DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 60 * 60 * 1000,
    }).toString();
  }

  /** Stops the API server (SIGTERM, by pid) and starts it again on the same port, data and keys. */
  restart(): void {
    const pid = Number(fs.readFileSync(path.join(this.dir, 'apiserver.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
    // gone, or a zombie nobody has reaped yet (its parent, up.sh, has exited)
    const alive = () => {
      try {
        return !/^\S+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 15000;
    while (alive() && Date.now() < deadline) execFileSync('sleep', ['0.1']);
    if (alive()) process.kill(pid, 'SIGKILL');
    fs.rmSync(path.join(this.dir, 'apiserver.pid'), { force: true });
    TestCluster.up(this.dir, Number(this.server.port));
  }

  /** host:port of the API server. */
  get address(): string {
    return this.server.host;
  }

  /** A kubeconfig for the same server that authenticates with `token`. */
  kubeconfigWithToken(token: string, file: string): string {
    const kc = parse(fs.readFileSync(this.kubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
    kc.users[0].user = { token };
    fs.writeFileSync(file, JSON.stringify(kc));
    return file;
  }

  stop(): void {
    if (this.shared) return;
    execFileSync('bash', [path.join(CLUSTER_DIR, 'down.sh')], { env: { ...process.env, HIVE_CLUSTER_DIR: this.dir }, stdio: 'inherit' });
  }

  /** A watch (`?watch=1` added): each event as the API server sends it, until stop(). */
  watch(urlPath: string, onEvent: (e: { type: string; object: Record<string, any> }) => void): { stop(): void } { // eslint-disable-line @typescript-eslint/no-explicit-any
    const req = https.request({
      host: this.server.hostname,
      port: this.server.port,
      path: `${urlPath}${urlPath.includes('?') ? '&' : '?'}watch=1`,
      ca: this.ca,
      agent: false,
      headers: { authorization: `Bearer ${this.adminToken}`, accept: 'application/json' },
    });
    req.on('response', (res) => {
      let buf = '';
      res.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) onEvent(JSON.parse(line));
        }
      });
    });
    req.on('error', () => undefined); // ended by stop()
    req.end();
    return { stop: () => req.destroy() };
  }

  /** Applies config/'s HiveTrace CRD (server-side, as `manager`) and waits until the API serves it. */
  async installCrd(manager = 'test'): Promise<void> {
    const crd = parseAllDocuments(fs.readFileSync(CRD, 'utf8'))[0].toJS();
    const p = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/hivetraces.hive.io?fieldManager=${manager}&force=true`;
    const r = await this.request('PATCH', p, JSON.stringify(crd), { contentType: 'application/apply-patch+yaml' });
    if (r.status < 200 || r.status >= 300) throw new Error(`apply the HiveTrace CRD: ${r.status} ${JSON.stringify(r.body.message)}`);
    for (let i = 0; (await this.request('GET', '/apis/hive.io/v1alpha1/hivetraces')).status !== 200; i++) {
      if (i > 100) throw new Error('CRD not served');
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** A REST call that must succeed (2xx): its body; else an error naming the call and the API server's message. */
  async ok(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<Record<string, unknown>> {
    const r = await this.request(method, urlPath, body, { contentType });
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${urlPath}: ${r.status} ${JSON.stringify(r.body.message)}`);
    return r.body;
  }

  /** A node's entry of a HiveTrace's status.nodes (undefined while there is none). */
  async traceNodeStatus(namespace: string, name: string, node: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const trace = await this.ok('GET', `/apis/hive.io/v1alpha1/namespaces/${namespace}/hivetraces/${name}`);
    return ((trace.status as { nodes?: { node: string }[] } | undefined)?.nodes ?? []).find((n) => n.node === node);
  }

  /** Polls that entry every 100 ms until `pred` holds (at most `tries` times); fails naming `what` and the last entry. */
  async untilTraceNodeStatus(
    namespace: string,
    name: string,
    node: string,
    pred: (e: any) => boolean, // eslint-disable-line @typescript-eslint/no-explicit-any
    what: string,
    tries = 150,
  ): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    let e: unknown;
    for (let i = 0; i < tries; i++) {
      e = await this.traceNodeStatus(namespace, name, node);
      if (e && pred(e)) return e;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`${what}: ${JSON.stringify(e)}`);
  }

  /**
   * One REST call; `body` is sent as JSON unless contentType says otherwise (string bodies as they are).
   * `as`: the admin impersonates that user (a `system:serviceaccount:NS:NAME` gets its groups from the API server).
   */
  request(
    method: string,
    urlPath: string,
    body?: unknown,
    opts: { contentType?: string; token?: string; as?: string } = {},
  ): Promise<KubeResponse> {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.server.hostname,
          port: this.server.port,
          path: urlPath,
          method,
          ca: this.ca,
          agent: false, // a fresh connection: a kept-alive one dies with a restarted server
          headers: {
            authorization: `Bearer ${opts.token ?? this.adminToken}`,
            accept: 'application/json',
            ...(opts.as ? { 'impersonate-user': opts.as } : {}),
            ...(data !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              parsed = { raw: text };
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  }
}

/** The REST path of an object, from its apiVersion and kind (the kinds config/ uses). */
export function objectPath(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): string {
  const plural: Record<string, string> = {
    CustomResourceDefinition: 'customresourcedefinitions',
    Namespace: 'namespaces',
    ServiceAccount: 'serviceaccounts',
    ClusterRole: 'clusterroles',
    ClusterRoleBinding: 'clusterrolebindings',
    Role: 'roles',
    RoleBinding: 'rolebindings',
    ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
    ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
    DaemonSet: 'daemonsets',
    HiveTrace: 'hivetraces',
    Pod: 'pods',
  };
  const p = plural[obj.kind];
  if (!p) throw new Error(`objectPath: unknown kind ${obj.kind}`);
  const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : '';
  return `${base}${ns}/${p}/${obj.metadata.name}`;
}
