// config/kustomization.yaml ships every manifest of config/rbac and
// config/policy: a role or the admission policy left out of it would be
// missing from `kubectl apply -k config/` and from `make deploy`, silently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const CONFIG = path.resolve(__dirname, '../../../config');

test('the kustomization lists every manifest of config/rbac and config/policy, and only files that exist', () => {
  const { resources } = parse(fs.readFileSync(path.join(CONFIG, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  for (const r of resources) assert.ok(fs.existsSync(path.join(CONFIG, r)), `${r} exists`);
  const manifests = ['rbac', 'policy'].flatMap((d) => fs.readdirSync(path.join(CONFIG, d)).filter((f) => f.endsWith('.yaml')).map((f) => `${d}/${f}`));
  assert.ok(manifests.includes('policy/trace_enforce_policy.yaml') && manifests.includes('rbac/trace_enforcer_role.yaml'), 'found the files');
  assert.deepEqual(manifests.filter((m) => !resources.includes(m)), [], 'not in the kustomization');
});
