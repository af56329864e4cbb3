// The real kube-apiserver of test/cluster for the tests: started with up.sh
// (building it once, cached outside the repo), stopped with down.sh by pid,
// and a minimal REST client that talks to it with the kubeconfig it wrote.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';

const CLUSTER_DIR = path.resolve(__dirname, '../../../test/cluster');

/** Why the real API server cannot run here, or false. */
export function clusterSkip(): string | false {
  if (process.env.HIVE_TEST_UNIT_ONLY) return 'HIVE_TEST_UNIT_ONLY is set (make test-unit)';
  for (const go of ['go', '/usr/local/go/bin/go']) {
    try {
      execFileSync(go, ['version'], { stdio: 'ignore' });
      return false;
    } catch {
      // try the next
    }
  }
  return 'needs Go to build the test kube-apiserver (test/cluster)';
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
  ) {}

  static start(): TestCluster {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-cluster-'));
    const env = { ...process.env, HIVE_CLUSTER_DIR: dir };
    let out: string;
    try {
      out = execFileSync('bash', [path.join(CLUSTER_DIR, 'up.sh')], { env, stdio: ['ignore', 'pipe', 'inherit'], timeout: 60 * 60 * 1000 }).toString();
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const kubeconfig = /export KUBECONFIG=(\S+)\s*$/.exec(out)?.[1];
    if (!kubeconfig) throw new Error(`up.sh printed no KUBECONFIG: ${out}`);
    const kc = parse(fs.readFileSync(kubeconfig, 'utf8')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { user: { token: string } }[];
    };
    const c = kc.clusters[0].cluster;
    return new TestCluster(dir, kubeconfig, new URL(c.server), Buffer.from(c['certificate-authority-data'], 'base64'), kc.users[0].user.token);
  }

  stop(): void {
    execFileSync('bash', [path.join(CLUSTER_DIR, 'down.sh')], { env: { ...process.env, HIVE_CLUSTER_DIR: this.dir }, stdio: 'inherit' });
  }

  /** One REST call; `body` is sent as JSON unless contentType says otherwise (string bodies as they are). */
  request(
    method: string,
    urlPath: string,
    body?: unknown,
    opts: { contentType?: string; token?: string } = {},
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
          headers: {
            authorization: `Bearer ${opts.token ?? this.adminToken}`,
            accept: 'application/json',
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
