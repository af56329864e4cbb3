// The shipped `hive` program as one file: esbuild bundles the compiled CLI
// (operator/dist/cli/main.js) and its dependencies into operator/dist/cli/hive.js.
// Why: Node.js keeps every loaded module's source and compiled code, and
// @kubernetes/client-node's entry loads all of its generated APIs and models;
// bundled with only the names hive uses (kube/client.ts K8S_NAMES), the rest is
// left out. The bundle sits in the same folder depth as every compiled module,
// so their `__dirname`-relative paths (repo root, proto/, the addon) still hold.
// The addon (a .node file loaded by a computed path) stays outside it.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(repo, 'operator/dist');
const { K8S_NAMES } = createRequire(import.meta.url)(path.join(dist, 'kube/client.js'));

// import('@kubernetes/client-node') in hive's modules becomes a module that
// re-exports K8S_NAMES alone, so that esbuild can drop what nothing uses
const k8sNames = {
  name: 'k8s-names',
  setup(build) {
    build.onResolve({ filter: /^@kubernetes\/client-node$/ }, (a) => (a.namespace === 'k8s-names' ? undefined : { path: 'k8s-names', namespace: 'k8s-names' }));
    build.onLoad({ filter: /.*/, namespace: 'k8s-names' }, () => ({
      contents: `export { ${K8S_NAMES.join(', ')} } from '@kubernetes/client-node';`,
      resolveDir: repo,
      loader: 'js',
    }));
  },
};

const result = await esbuild.build({
  entryPoints: [path.join(dist, 'cli/main.js')],
  outfile: path.join(dist, 'cli/hive.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // fewer bytes of source kept in memory; names kept (errors and logs name classes)
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'none',
  plugins: [k8sNames],
  logLevel: 'warning',
  logOverride: { 'require-resolve-not-external': 'silent', 'unsupported-require-call': 'silent', 'unsupported-dynamic-import': 'silent' },
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`bundled operator/dist/cli/hive.js (${(bytes / 1048576).toFixed(1)} MiB)`);
