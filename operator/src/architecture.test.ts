// The folders keep to the data flow (DESIGN.md): read every module's imports
// from operator/src and check that there are no import cycles, that the lower
// layers never reach up, that the two monitors stay peers joined only by the
// agent and the CLI, and that nothing shipped imports the test harnesses.
// Type-only imports count too: they are dependencies a reader follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const SRC = 'operator/src';

/** Module path relative to operator/src, without .ts: "cli/args". */
type Module = string;
type Graph = Map<Module, Set<Module>>;

const IMPORT_PATTERNS = [
  /^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm, // import x from '..' / export * from '..'
  /^\s*import\s*['"]([^'"]+)['"]/gm, // import '..' (side effects)
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, // lazy import('..')
  /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** The graph of relative imports among `sources` (module -> its text); other specifiers are packages. */
export function importGraph(sources: Map<Module, string>): Graph {
  const graph: Graph = new Map();
  for (const [mod, text] of sources) {
    const deps = new Set<Module>();
    for (const re of IMPORT_PATTERNS) {
      for (const m of text.matchAll(re)) {
        const spec = m[1];
        if (!spec.startsWith('.')) continue;
        const base = path.posix.normalize(path.posix.join(path.posix.dirname(mod), spec)).replace(/\.js$/, '');
        const target = [base, `${base}/index`].find((t) => sources.has(t));
        if (target === undefined) throw new Error(`${mod}: import '${spec}' resolves to no module of ${SRC}`);
        deps.add(target);
      }
    }
    graph.set(mod, deps);
  }
  return graph;
}

const isTest = (m: Module) => /\.test$/.test(m);
const folder = (m: Module) => (m.includes('/') ? m.slice(0, m.indexOf('/')) : '.');

/** Each import cycle among the graph's modules (strongly connected components of two or more, or a self-import). */
export function importCycles(graph: Graph): Module[][] {
  // Tarjan's algorithm, iterative so a deep tree cannot overflow the stack.
  let next = 0;
  const index = new Map<Module, number>();
  const low = new Map<Module, number>();
  const stack: Module[] = [];
  const onStack = new Set<Module>();
  const out: Module[][] = [];
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { mod: Module; deps: Module[]; i: number }[] = [];
    const visit = (mod: Module) => {
      index.set(mod, next);
      low.set(mod, next++);
      stack.push(mod);
      onStack.add(mod);
      work.push({ mod, deps: [...(graph.get(mod) ?? [])], i: 0 });
    };
    visit(start);
    while (work.length) {
      const top = work[work.length - 1];
      if (top.i < top.deps.length) {
        const dep = top.deps[top.i++];
        if (!graph.has(dep)) continue;
        if (!index.has(dep)) visit(dep);
        else if (onStack.has(dep)) low.set(top.mod, Math.min(low.get(top.mod)!, index.get(dep)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].mod;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.mod)!));
      }
      if (low.get(top.mod) === index.get(top.mod)) {
        const scc: Module[] = [];
        let m: Module;
        do {
          m = stack.pop()!;
          onStack.delete(m);
          scc.push(m);
        } while (m !== top.mod);
        if (scc.length > 1 || graph.get(top.mod)?.has(top.mod)) out.push(scc.sort());
      }
    }
  }
  return out;
}

// The layers, bottom up (DESIGN.md): generic kernel, system and output layers,
// the two monitors as peers, and the agent and the CLI that join them.
const LOWER = ['bpf', 'sys', 'util', 'output', 'resolve'];
const UPPER = ['fileaccess', 'netmon', 'agent', 'cli', 'kube'];
const MONITORS = ['fileaccess', 'netmon'];
const JOINERS = ['agent', 'cli'];
// Not shipped (the image deletes them): harnesses may join the monitors to exercise both.
const HARNESSES = ['testing', 'bench'];

/** Every import that breaks a layering rule, one line each ("from -> to: rule"). */
export function layerViolations(graph: Graph): string[] {
  const out: string[] = [];
  const reach = (from: Module): Set<string> => {
    const seen = new Set<Module>();
    const todo = [from];
    while (todo.length) {
      for (const d of graph.get(todo.pop()!) ?? []) if (!seen.has(d)) seen.add(d), todo.push(d);
    }
    return new Set([...seen].map(folder));
  };
  for (const [mod, deps] of graph) {
    if (isTest(mod)) continue;
    const from = folder(mod);
    for (const dep of deps) {
      const to = folder(dep);
      if (LOWER.includes(from) && UPPER.includes(to)) out.push(`${mod} -> ${dep}: ${from}/ is below ${to}/`);
      if (MONITORS.includes(from) && to !== from && [...MONITORS, ...JOINERS].includes(to)) {
        out.push(`${mod} -> ${dep}: ${from}/ imports neither its peer monitor nor ${JOINERS.join('/ nor ')}/`);
      }
      if (HARNESSES.includes(to) && !HARNESSES.includes(from)) out.push(`${mod} -> ${dep}: only tests import ${to}/`);
      if (from === 'testing' && to === 'bench') out.push(`${mod} -> ${dep}: testing/ does not import bench/`);
    }
    if (![...JOINERS, ...HARNESSES, ...MONITORS].includes(from)) {
      const reached = reach(mod);
      if (MONITORS.every((m) => reached.has(m))) out.push(`${mod}: joins ${MONITORS.join(' and ')}, which only ${JOINERS.join(' and ')} do`);
    }
  }
  return out;
}

function readSources(): Map<Module, string> {
  const out = new Map<Module, string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, SRC, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      // this file imports nothing of ours; its sample sources would read as imports
      else if (rel === 'architecture.test.ts') continue;
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.set(rel.replace(/\.ts$/, ''), fs.readFileSync(path.join(ROOT, SRC, rel), 'utf8'));
    }
  };
  walk('');
  return out;
}

test('operator/src has no import cycles among non-test modules', () => {
  const graph = importGraph(readSources());
  assert.ok(graph.size > 50, `read the sources (${graph.size} modules)`);
  assert.ok([...graph.values()].reduce((n, d) => n + d.size, 0) > 100, 'and their imports');
  // generated/ is the protobuf types' own web, not ours to layer
  const ours: Graph = new Map([...graph].filter(([m]) => !isTest(m) && folder(m) !== 'generated'));
  assert.deepEqual(importCycles(ours), []);
});

test('layers: lower layers never import upper ones, the monitors are peers joined only by agent/ and cli/, harnesses stay in tests', () => {
  assert.deepEqual(layerViolations(importGraph(readSources())), []);
});

test('the checks find what they look for', () => {
  const src = new Map<Module, string>([
    ['util/a', "import { b } from './b';"],
    ['util/b', "import type { a } from './a.js';"],
    ['util/self', "export * from './self';"],
    ['bpf/x', "const m = await import('../netmon/n');"],
    ['netmon/n', "import '../fileaccess/f';\nimport { y } from '../agent/y';"],
    ['fileaccess/f', "import {\n  z,\n} from '../util/a';"],
    ['agent/y', "import x from 'some-package';"],
    ['kube/k', "import { f } from '../fileaccess/f';\nimport { n } from '../netmon/n';"],
    ['output/o', "const t = require('../testing/t');"],
    ['testing/t', "import { b } from '../bench/b';"],
    ['bench/b', "import { t } from '../testing/t';"],
    ['cli/c.test', "import { t } from '../testing/t';"],
  ]);
  const g = importGraph(src);
  assert.deepEqual(importCycles(g).sort(), [['bench/b', 'testing/t'], ['util/a', 'util/b'], ['util/self']]);
  assert.deepEqual(layerViolations(g).sort(), [
    'bpf/x -> netmon/n: bpf/ is below netmon/',
    'bpf/x: joins fileaccess and netmon, which only agent and cli do',
    'kube/k: joins fileaccess and netmon, which only agent and cli do',
    'netmon/n -> agent/y: netmon/ imports neither its peer monitor nor agent/ nor cli/',
    'netmon/n -> fileaccess/f: netmon/ imports neither its peer monitor nor agent/ nor cli/',
    'output/o -> testing/t: only tests import testing/',
    'testing/t -> bench/b: testing/ does not import bench/',
  ]);
  assert.throws(() => importGraph(new Map([['a/b', "import x from './missing';"]])), /a\/b: import '.\/missing' resolves to no module/);
});
