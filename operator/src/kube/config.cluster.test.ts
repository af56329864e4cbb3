// config/ against the real kube-apiserver (test/cluster): everything applies
// (server-side dry-run, then for real), and invalid HiveTraces are rejected by
// the API server itself, with the schema's messages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { TestCluster, clusterSkip, objectPath } from '../testing/cluster';

const CONFIG = path.resolve(__dirname, '../../../config');

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

function kustomizationObjects(): Obj[] {
  const k = parseAllDocuments(fs.readFileSync(path.join(CONFIG, 'kustomization.yaml'), 'utf8'))[0].toJS() as { resources: string[] };
  return k.resources.flatMap((r) =>
    parseAllDocuments(fs.readFileSync(path.join(CONFIG, r), 'utf8')).map((d) => d.toJS() as Obj),
  );
}

describe('config/ on a real API server', { skip: clusterSkip() }, () => {
  let cluster: TestCluster;
  before(() => {
    cluster = TestCluster.start();
  });
  after(() => cluster?.stop());

  const apply = (o: Obj, dryRun: boolean) =>
    cluster.request('PATCH', `${objectPath(o)}?fieldManager=hive-test&force=true${dryRun ? '&dryRun=All' : ''}`, JSON.stringify(o), {
      contentType: 'application/apply-patch+yaml',
    });

  test('every object of the kustomization applies: server-side dry-run, then for real', async () => {
    const objs = kustomizationObjects();
    assert.ok(objs.some((o) => o.kind === 'CustomResourceDefinition'));
    // the namespace first, so the namespaced objects' dry-run can find it
    const ordered = [...objs.filter((o) => o.kind === 'Namespace'), ...objs.filter((o) => o.kind !== 'Namespace')];
    for (const o of ordered) {
      if (o.kind === 'Namespace') assert.ok([200, 201].includes((await apply(o, false)).status));
      const dry = await apply(o, true);
      assert.ok([200, 201].includes(dry.status), `dry-run ${o.kind}/${o.metadata.name}: ${dry.status} ${JSON.stringify(dry.body.message)}`);
    }
    for (const o of ordered) {
      const r = await apply(o, false);
      assert.ok([200, 201].includes(r.status), `apply ${o.kind}/${o.metadata.name}: ${r.status} ${JSON.stringify(r.body.message)}`);
    }
  });


  test('the CRD becomes Established and the sample HiveTrace is accepted, with defaults', async () => {
    const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/hivetraces.hive.io';
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      const r = await cluster.request('GET', crdPath);
      const conds = ((r.body.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []);
      ok = conds.some((c) => c.type === 'Established' && c.status === 'True');
      if (!ok) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(ok, 'CRD Established');
    const sample = parseAllDocuments(fs.readFileSync(path.join(CONFIG, 'samples/hivetrace-shadow.yaml'), 'utf8'))[0].toJS() as Obj;
    // the API server needs a moment after Established before it serves the new type
    let r = await apply(sample, false);
    for (let i = 0; i < 50 && r.status === 404; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await apply(sample, false);
    }
    assert.ok([200, 201].includes(r.status), `${r.status} ${JSON.stringify(r.body.message)}`);
    const minimal = { apiVersion: 'hive.io/v1alpha1', kind: 'HiveTrace', metadata: { name: 'minimal', namespace: 'default' }, spec: { paths: ['/etc/shadow'], selector: {} } };
    const m = await cluster.request('POST', '/apis/hive.io/v1alpha1/namespaces/default/hivetraces', minimal);
    assert.equal(m.status, 201, JSON.stringify(m.body.message));
    assert.deepEqual((m.body.spec as { access: string[] }).access, ['read', 'write', 'exec'], 'access defaults to all');
    const netOnly = { ...minimal, metadata: { name: 'network-only', namespace: 'default' }, spec: { selector: {}, network: { mode: 'block-external' } } };
    const n = await cluster.request('POST', '/apis/hive.io/v1alpha1/namespaces/default/hivetraces', netOnly);
    assert.equal(n.status, 201, `a trace without paths but with a network mode is valid: ${JSON.stringify(n.body.message)}`);
    const exfil = parseAllDocuments(fs.readFileSync(path.join(CONFIG, 'samples/hivetrace-exfil.yaml'), 'utf8'))[0].toJS() as Obj;
    const x = await cluster.request('POST', '/apis/hive.io/v1alpha1/namespaces/default/hivetraces', { ...exfil, metadata: { name: 'exfil', namespace: 'default' } });
    assert.equal(x.status, 201, `the correlate sample is valid: ${JSON.stringify(x.body.message)}`);
    assert.deepEqual((x.body.spec as { correlate: unknown }).correlate, { withinSeconds: 30, block: { seconds: 600 } });
  });

  test('invalid HiveTraces are rejected by the API server with a clear message', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['relative path', { paths: ['etc/shadow'], selector: {} }, /paths must be absolute/],
      ['.. component', { paths: ['/etc/../root/.ssh'], selector: {} }, /must not contain '\.\.' components/],
      ['NUL byte', { paths: ['/etc/sha\u0000dow'], selector: {} }, /NUL/],
      ['empty path', { paths: [''], selector: {} }, /spec\.paths\[0\]: Invalid value: "": spec\.paths\[0\] in body should be at least 1 chars long/],
      ['no paths nor network', { selector: {} }, /a trace needs paths, or a network mode other than off/],
      ['paths absent, network off', { selector: {}, network: { mode: 'off' } }, /a trace needs paths, or a network mode other than off/],
      ['no paths', { paths: [], selector: {} }, /spec\.paths: Invalid value: 0: spec\.paths in body should have at least 1 items/],
      ['65 paths', { paths: Array.from({ length: 65 }, (_, i) => `/p${i}`), selector: {} }, /spec\.paths: Too many: 65: must have at most 64 items/],
      ['unknown access', { paths: ['/a'], selector: {}, access: ['read', 'delete'] }, /spec\.access\[1\]: Unsupported value: "delete": supported values: "read", "write", "exec"/],
      ['repeated access', { paths: ['/a'], selector: {}, access: ['read', 'read'] }, /access must not repeat a value/],
      ['selector not an object', { paths: ['/a'], selector: 'app=web' }, /spec\.selector: Invalid value: "string": spec\.selector in body must be of type object/],
      ['bad selector operator', { paths: ['/a'], selector: { matchExpressions: [{ key: 'app', operator: 'Like' }] } }, /Unsupported value: "Like"/],
      ['matchLabels not strings', { paths: ['/a'], selector: { matchLabels: { app: 1 } } }, /matchLabels\.app: Invalid value: "integer"/],
      ['no selector', { paths: ['/a'] }, /spec\.selector: Required value/],
      ['unknown network mode', { paths: ['/a'], selector: {}, network: { mode: 'block-all' } }, /Unsupported value: "block-all"/],
      ['rate limit 0', { paths: ['/a'], selector: {}, rateLimit: 0 }, /spec\.rateLimit: Invalid value: 0: spec\.rateLimit in body should be greater than or equal to 1/],
      ['correlate window 0', { paths: ['/a'], selector: {}, correlate: { withinSeconds: 0 } }, /spec\.correlate\.withinSeconds: Invalid value: 0: spec\.correlate\.withinSeconds in body should be greater than or equal to 1/],
      ['correlate window 3601', { paths: ['/a'], selector: {}, correlate: { withinSeconds: 3601 } }, /spec\.correlate\.withinSeconds: Invalid value: 3601: spec\.correlate\.withinSeconds in body should be less than or equal to 3600/],
      ['correlate without window', { paths: ['/a'], selector: {}, correlate: {} }, /spec\.correlate\.withinSeconds: Required value/],
      ['correlate block 86401', { paths: ['/a'], selector: {}, correlate: { withinSeconds: 5, block: { seconds: 86401 } } }, /spec\.correlate\.block\.seconds: Invalid value: 86401: spec\.correlate\.block\.seconds in body should be less than or equal to 86400/],
      ['correlate block 0', { paths: ['/a'], selector: {}, correlate: { withinSeconds: 5, block: { seconds: 0 } } }, /spec\.correlate\.block\.seconds in body should be greater than or equal to 1/],
      ['correlate without paths', { selector: {}, network: { mode: 'monitor' }, correlate: { withinSeconds: 5 } }, /correlate needs paths: the reads it joins are of watched files/],
      ['correlate without read', { paths: ['/a'], selector: {}, access: ['write'], correlate: { withinSeconds: 5 } }, /correlate joins reads: access must include read/],
    ];
    const failures: string[] = [];
    for (const [what, spec, re] of cases) {
      const name = what.replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
      const r = await cluster.request('POST', '/apis/hive.io/v1alpha1/namespaces/default/hivetraces', {
        apiVersion: 'hive.io/v1alpha1',
        kind: 'HiveTrace',
        metadata: { name },
        spec,
      });
      const msg = String(r.body.message ?? '');
      if (r.status !== 422 || !re.test(msg)) failures.push(`${what}: ${r.status} ${msg}`);
    }
    assert.deepEqual(failures, []);
  });
});
