// Who may deny, against the real kube-apiserver (test/cluster, RBAC on): the
// roles of config/rbac and the ValidatingAdmissionPolicy of config/policy,
// applied as they ship; users by impersonation. alice may edit HiveTraces in
// team-a; bob may edit them in team-a and team-b and enforce in team-a only;
// the agent is its ServiceAccount with its ClusterRole from config/rbac.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { KubeResponse, TestCluster, clusterSkip, objectPath } from '../testing/cluster';

const ROOT = path.resolve(__dirname, '../../..');
const KUBECTL = path.join(ROOT, 'test/cluster/kubectl.sh');
const AGENT = 'system:serviceaccount:hive-system:hive-agent';
const TRACES = (ns: string) => `/apis/hive.io/v1alpha1/namespaces/${ns}/hivetraces`;
const MERGE = 'application/merge-patch+json';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

function configObjects(...files: string[]): Obj[] {
  return files.flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(ROOT, 'config', f), 'utf8')).map((d) => d.toJS() as Obj));
}

function trace(namespace: string, name: string, spec: Obj = {}): Obj {
  return {
    apiVersion: 'hive.io/v1alpha1',
    kind: 'HiveTrace',
    metadata: { name, namespace },
    spec: { selector: { matchLabels: { app: 'web' } }, paths: ['/etc/shadow'], ...spec },
  };
}

/** The policy's rejection, as the API server words it. */
function refusal(action: string, namespace: string, user: string): RegExp {
  return new RegExp(
    `ValidatingAdmissionPolicy 'hive-trace-enforce' with binding 'hive-trace-enforce' denied request: spec\\.action ${action} needs the 'enforce' verb on hivetraces \\(hive\\.io\\) in namespace ${namespace}, which ${user} lacks: bind the ClusterRole hive-trace-enforcer there`,
  );
}

describe('who may create deny traces: the enforce verb and the admission policy on a real API server', { skip: clusterSkip() }, () => {
  let cluster: TestCluster;
  const as = (user: string, method: string, p: string, body?: unknown, contentType?: string): Promise<KubeResponse> =>
    cluster.request(method, p, body, { as: user, contentType });
  const assertStatus = (r: KubeResponse, status: number, what: string) => assert.equal(r.status, status, `${what}: ${r.status} ${JSON.stringify(r.body.message)}`);
  const assertRefused = (r: KubeResponse, action: string, ns: string, user: string, what: string) => {
    assertStatus(r, 403, what);
    assert.match(String(r.body.message), refusal(action, ns, user), what);
  };
  const apply = async (o: Obj) => {
    const r = await cluster.request('PATCH', `${objectPath(o as never)}?fieldManager=hive-test&force=true`, JSON.stringify(o), { contentType: 'application/apply-patch+yaml' });
    assert.ok([200, 201].includes(r.status), `apply ${o.kind}/${o.metadata.name}: ${r.status} ${JSON.stringify(r.body.message)}`);
  };
  const bind = (ns: string, user: string, role: string) =>
    apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${user}-${role}`, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    });

  before(async () => {
    cluster = TestCluster.start();
    await cluster.installCrd();
    const shipped = configObjects(
      'agent/namespace.yaml',
      'rbac/service_account.yaml',
      'rbac/cluster_role.yaml',
      'rbac/cluster_role_binding.yaml',
      'rbac/trace_editor_role.yaml',
      'rbac/trace_enforcer_role.yaml',
      'policy/trace_enforce_policy.yaml',
      'policy/trace_enforce_policy_binding.yaml',
    );
    for (const o of shipped) await apply(o);
    for (const ns of ['team-a', 'team-b', 'team-c']) await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await bind('team-a', 'alice', 'hive-trace-editor');
    await bind('team-a', 'bob', 'hive-trace-editor');
    await bind('team-a', 'bob', 'hive-trace-enforcer');
    await bind('team-b', 'bob', 'hive-trace-editor');
    // The API server loads new policies through an informer: until it has this one, a deny
    // trace goes through. Probe until it is refused (bounded), removing what got in.
    const deadline = Date.now() + 30000;
    for (let i = 0; ; i++) {
      const r = await as('alice', 'POST', TRACES('team-a'), trace('team-a', `probe-${i}`, { action: 'deny' }));
      if (r.status === 403) break;
      assertStatus(r, 201, 'the probe is either refused by the policy or created');
      await cluster.ok('DELETE', `${TRACES('team-a')}/probe-${i}`);
      if (Date.now() > deadline) throw new Error('the admission policy was not in force after 30 s');
      await new Promise((res) => setTimeout(res, 250));
    }
  });
  after(() => cluster?.stop());

  test('an editor without the verb creates audit traces, not deny or kill ones (not even audit-first ones)', async () => {
    assertStatus(await as('alice', 'POST', TRACES('team-a'), trace('team-a', 'audit-1')), 201, 'alice, no action (audit)');
    assertStatus(await as('alice', 'POST', TRACES('team-a'), trace('team-a', 'audit-2', { action: 'audit' })), 201, 'alice, action audit');
    assertRefused(await as('alice', 'POST', TRACES('team-a'), trace('team-a', 'deny-1', { action: 'deny' })), 'deny', 'team-a', 'alice', 'alice, deny');
    assertRefused(await as('alice', 'POST', TRACES('team-a'), trace('team-a', 'kill-1', { action: 'kill' })), 'kill', 'team-a', 'alice', 'alice, kill');
    // enforce: false is one field away from enforcing, and names what would be denied
    assertRefused(
      await as('alice', 'POST', TRACES('team-a'), trace('team-a', 'deny-2', { action: 'deny', enforce: false })),
      'deny',
      'team-a',
      'alice',
      'alice, deny with enforce false',
    );
    // server-side apply creates through the same admission
    const ssa = trace('team-a', 'deny-3', { action: 'deny' });
    assertRefused(
      await as('alice', 'PATCH', `${TRACES('team-a')}/deny-3?fieldManager=alice`, JSON.stringify(ssa), 'application/apply-patch+yaml'),
      'deny',
      'team-a',
      'alice',
      'alice, deny by server-side apply',
    );
    const list = await cluster.ok('GET', TRACES('team-a'));
    assert.deepEqual(((list.items as Obj[]).map((t) => t.metadata.name) as string[]).sort(), ['audit-1', 'audit-2']);
  });

  test('kubectl shows the refusal on one line, naming the verb and the role', () => {
    const r = spawnSync('bash', [KUBECTL, '--as=alice', 'create', '-f', '-'], {
      input: JSON.stringify(trace('team-a', 'deny-kubectl', { action: 'deny' })),
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^Error from server \(Forbidden\): error when creating "STDIN": hivetraces\.hive\.io "deny-kubectl" is forbidden: /);
    assert.match(lines[0], refusal('deny', 'team-a', 'alice'));
  });

  test('the verb counts in its namespace only: bob denies in team-a, not in team-b (policy) nor team-c (RBAC)', async () => {
    assertStatus(await as('bob', 'POST', TRACES('team-a'), trace('team-a', 'bob-deny', { action: 'deny' })), 201, 'bob, deny in team-a');
    assertStatus(await as('bob', 'POST', TRACES('team-a'), trace('team-a', 'bob-kill', { action: 'kill' })), 201, 'bob, kill in team-a');
    assertStatus(await as('bob', 'POST', TRACES('team-b'), trace('team-b', 'bob-audit')), 201, 'bob, audit in team-b');
    assertRefused(await as('bob', 'POST', TRACES('team-b'), trace('team-b', 'bob-deny', { action: 'deny' })), 'deny', 'team-b', 'bob', 'bob, deny in team-b');
    const c = await as('bob', 'POST', TRACES('team-c'), trace('team-c', 'bob-deny', { action: 'deny' }));
    assertStatus(c, 403, 'bob, deny in team-c');
    assert.match(String(c.body.message), /User "bob" cannot create resource "hivetraces" in API group "hive\.io" in the namespace "team-c"/);
  });

  test("an enforcing trace's spec needs the verb to change; its metadata, a switch back to audit and a delete do not", async () => {
    const bobDeny = `${TRACES('team-a')}/bob-deny`;
    assertRefused(await as('alice', 'PATCH', bobDeny, { spec: { paths: ['/etc/shadow', '/etc/passwd'] } }, MERGE), 'deny', 'team-a', 'alice', 'alice widens the paths');
    const current = await cluster.ok('GET', bobDeny);
    const put = { ...current, spec: { ...(current.spec as Obj), selector: { matchLabels: { app: 'db' } } } };
    assertRefused(await as('alice', 'PUT', bobDeny, put), 'deny', 'team-a', 'alice', 'alice moves the selector (update)');
    assertRefused(await as('alice', 'PATCH', bobDeny, { spec: { enforce: false } }, MERGE), 'deny', 'team-a', 'alice', 'alice sets enforce false');
    assertStatus(await as('alice', 'PATCH', bobDeny, { metadata: { labels: { owner: 'security' } } }, MERGE), 200, 'alice labels it');
    assertStatus(await as('bob', 'PATCH', bobDeny, { spec: { paths: ['/etc/shadow', '/etc/gshadow'] } }, MERGE), 200, 'bob changes the paths');
    const after1 = await cluster.ok('GET', bobDeny);
    assert.deepEqual((after1.spec as Obj).paths, ['/etc/shadow', '/etc/gshadow']);
    assert.equal((after1.metadata as Obj).labels.owner, 'security');
    // stopping less is any editor's: back to audit, then not back to deny
    assertStatus(await as('alice', 'PATCH', bobDeny, { spec: { action: 'audit' } }, MERGE), 200, 'alice turns it to audit');
    assertRefused(await as('alice', 'PATCH', bobDeny, { spec: { action: 'deny' } }, MERGE), 'deny', 'team-a', 'alice', 'alice turns it back to deny');
    assertRefused(await as('alice', 'PATCH', `${TRACES('team-a')}/audit-1`, { spec: { action: 'kill' } }, MERGE), 'kill', 'team-a', 'alice', 'alice turns her audit trace to kill');
    assertStatus(await as('bob', 'PATCH', bobDeny, { spec: { action: 'deny' } }, MERGE), 200, 'bob turns it back to deny');
    assertStatus(await as('alice', 'DELETE', `${TRACES('team-a')}/bob-kill`), 200, 'alice deletes the kill trace');
  });

  test("the agent's ServiceAccount writes a deny trace's status (server-side apply, as the agent does) and nothing of its spec", async () => {
    const status = {
      apiVersion: 'hive.io/v1alpha1',
      kind: 'HiveTrace',
      metadata: { name: 'bob-deny', namespace: 'team-a' },
      status: { nodes: [{ node: 'node-1', conditions: [{ type: 'Ready', status: 'False', reason: 'EnforcementUnavailable', message: 'tracepoint cannot deny' }] }] },
    };
    const r = await as(
      AGENT,
      'PATCH',
      `${TRACES('team-a')}/bob-deny/status?fieldManager=hive-agent/node-1&force=true`,
      JSON.stringify(status),
      'application/apply-patch+yaml',
    );
    assertStatus(r, 200, 'the agent writes the status');
    const entry = await cluster.traceNodeStatus('team-a', 'bob-deny', 'node-1');
    assert.equal(entry?.conditions?.[0]?.reason, 'EnforcementUnavailable');
    const spec = await as(AGENT, 'PATCH', `${TRACES('team-a')}/bob-deny`, { spec: { action: 'audit' } }, MERGE);
    assertStatus(spec, 403, 'the agent changes the spec');
    assert.match(String(spec.body.message), /cannot patch resource "hivetraces" in API group "hive\.io"/);
  });

  test('the roles grant what they say: SelfSubjectAccessReview of enforce per user and namespace', async () => {
    const can = async (user: string, ns: string, verb: string) => {
      const r = await as(user, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { group: 'hive.io', resource: 'hivetraces', namespace: ns, verb } },
      });
      assertStatus(r, 201, `review ${user} ${verb} in ${ns}`);
      return (r.body.status as Obj).allowed === true;
    };
    assert.deepEqual(
      [await can('alice', 'team-a', 'enforce'), await can('bob', 'team-a', 'enforce'), await can('bob', 'team-b', 'enforce'), await can(AGENT, 'team-a', 'enforce')],
      [false, true, false, false],
    );
    assert.deepEqual([await can('alice', 'team-a', 'create'), await can('alice', 'team-b', 'create')], [true, false]);
  });
});
