import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { CRD_FILE, crdYaml } from './gen-manifests';
import { crd } from './hivetrace-schema';

test('the committed CRD is what `make manifests` generates', () => {
  assert.equal(fs.readFileSync(CRD_FILE, 'utf8'), crdYaml(), 'config/crd is stale: run make manifests');
});

test('the schema is structural: every node has a type, no anyOf/const', () => {
  const walk = (n: unknown, at: string): void => {
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    assert.equal('anyOf' in o || 'const' in o || '$id' in o, false, `${at} uses anyOf/const/$id`);
    for (const [k, v] of Object.entries(o)) if (k !== 'x-kubernetes-validations' && k !== 'default') walk(v, `${at}.${k}`);
  };
  const schema = (crd().spec as { versions: { schema: unknown }[] }).versions[0].schema;
  walk(schema, 'schema');
});
