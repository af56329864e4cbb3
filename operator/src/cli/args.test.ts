import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { COMMANDS, TRACE, defaultHostProc, parseAgentArgs, parseExplainArgs, parseLogsArgs, parseNetmonArgs, parseProbeArgs, parseReportArgs, parseTraceArgs } from './args';
import { OptionDef, helpText, parseArgsOptions, usageLine } from './options';
import { ACCESS, ACCESS_ALL } from '../fileaccess/layout';
import { UsageError } from '../util/errors';

test('trace defaults', () => {
  const saved = process.env.CONTAINERD_ADDRESS;
  delete process.env.CONTAINERD_ADDRESS;
  try {
    assert.deepEqual(parseTraceArgs(['/etc/shadow']), {
      mode: 'auto',
      action: 'audit',
      access: ACCESS_ALL,
      pretty: false,
      maxWatches: 65536,
      skipMissing: false,
      paths: ['/etc/shadow'],
      pid: undefined,
      container: undefined,
      containerdSocket: '/run/containerd/containerd.sock',
      criSocket: undefined,
      hostProc: defaultHostProc(),
      maxMatches: 1024,
    });
  } finally {
    if (saved !== undefined) process.env.CONTAINERD_ADDRESS = saved;
  }
});

test('container options, and the runtime socket from CONTAINERD_ADDRESS', () => {
  process.env.CONTAINERD_ADDRESS = '/tmp/c.sock';
  try {
    const o = parseTraceArgs(['--container', 'containerd://abc', '--host-proc', '/hp', '--max-matches', '5', '/etc/passwd']);
    assert.equal(o.container, 'containerd://abc');
    assert.equal(o.containerdSocket, '/tmp/c.sock');
    assert.equal(o.hostProc, '/hp');
    assert.equal(o.maxMatches, 5);
    assert.equal(parseTraceArgs(['--containerd-socket', '/x.sock', '/a']).containerdSocket, '/x.sock');
  } finally {
    delete process.env.CONTAINERD_ADDRESS;
  }
  assert.equal(parseTraceArgs(['--pid', '42', '/a']).pid, 42);
  assert.throws(() => parseTraceArgs(['--pid', '1', '--container', 'x', '/a']), /--pid or --container, not both/);
  assert.throws(() => parseTraceArgs(['--pid', 'self', '/a']), /--pid must be a whole number/);
  assert.equal(defaultHostProc(() => true), '/host/proc');
  assert.equal(defaultHostProc(() => false), '/proc');
});

test('explain options', () => {
  const o = parseExplainArgs(['--container', 'containerd://abc', '--json', '--max-matches', '3', '/a', '/b/*'], {});
  assert.deepEqual(o, {
    paths: ['/a', '/b/*'],
    pid: undefined,
    container: 'containerd://abc',
    containerdSocket: '/run/containerd/containerd.sock',
    criSocket: undefined,
    hostProc: defaultHostProc(),
    maxMatches: 3,
    json: true,
  });
  assert.throws(() => parseExplainArgs(['--pid', '1', '--container', 'x', '/a'], {}), /^UsageError: hive explain: give --pid or --container, not both$|hive explain: give --pid or --container, not both/);
  assert.throws(() => parseExplainArgs([], {}), /hive explain: no paths given/);
});

test('trace options', () => {
  const o = parseTraceArgs(['--mode', 'fentry', '--access', 'write', '--pretty', '--max-watches', '10', '/a', '/b']);
  assert.equal(o.mode, 'fentry');
  assert.equal(o.access, ACCESS.write);
  assert.equal(o.pretty, true);
  assert.equal(o.maxWatches, 10);
  assert.deepEqual(o.paths, ['/a', '/b']);
  assert.equal(parseTraceArgs(['--mode=tracepoint', '/a']).mode, 'tracepoint');
  assert.equal(parseTraceArgs(['--deny', '/a']).action, 'deny');
  assert.equal(parseTraceArgs(['--deny', '--mode', 'lsm', '/a']).action, 'deny');
  assert.equal(parseTraceArgs(['--kill', '--mode', 'tracepoint', '/a']).action, 'kill');
  assert.equal(parseTraceArgs(['--kill', '/a']).action, 'kill');
});

test('trace rejects bad input with one line naming what is allowed', () => {
  const cases: [string[], RegExp][] = [
    [['--mode', 'ebpf', '/a'], /unknown mode 'ebpf'; allowed: auto, kprobe, fentry, lsm, tracepoint/],
    [['--access', 'delete', '/a'], /unknown access 'delete'; allowed: read, write, exec/],
    [['--max-watches', '0', '/a'], /--max-watches must be from 1 to/],
    [['--max-watches', 'lots', '/a'], /--max-watches must be a whole number/],
    [['--frobnicate', '/a'], /hive trace: Unknown option '--frobnicate'/],
    [[], /no paths given/],
    [['--deny', '--kill', '/a'], /give --deny or --kill, not both/],
    [['--deny', '--mode', 'kprobe', '/a'], /--deny: mode kprobe cannot deny .*; modes that can: fentry, lsm$/],
    [['--deny', '--mode', 'tracepoint', '/a'], /--deny: mode tracepoint cannot deny .*can kill the opener instead.*; modes that can: fentry, lsm$/],
    [['--kill', '--mode', 'lsm', '/a'], /--kill: mode lsm cannot kill .*; modes that can: tracepoint$/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(
      () => parseTraceArgs(argv),
      (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n') && e.exitCode === 2,
      argv.join(' '),
    );
  }
});

test('probe takes no arguments', () => {
  assert.deepEqual(parseProbeArgs([]), {});
  assert.throws(() => parseProbeArgs(['x']), /unexpected argument 'x'/);
});

test('netmon: pod IPs and CIDRs repeat or take commas; defaults', () => {
  const o = parseNetmonArgs(['--pod-ip', '10.0.0.5,10.0.0.6', '--pod-ip', 'fd00::5', '--cluster-cidr', '10.0.0.0/16', '--block-external']);
  assert.deepEqual(o.podIps.map((p) => p.text), ['10.0.0.5', '10.0.0.6', 'fd00::5']);
  assert.deepEqual(o.clusterCidrs.map((c) => c.text), ['10.0.0.0/16']);
  assert.equal(o.blockExternal, true);
  assert.equal(o.summaryIntervalMs, 10_000);
  assert.equal(o.idleTimeoutMs, 30_000);
  assert.equal(parseNetmonArgs(['--pod-ip', '10.0.0.5', '--summary-interval', '0']).summaryIntervalMs, 0);
});

test('netmon: every bad value is named, one line each, and nothing starts', () => {
  assert.throws(() => parseNetmonArgs([]), /hive netmon: no --pod-ip given; usage: hive netmon/);
  assert.throws(
    () => parseNetmonArgs(['--pod-ip', '10.0.0.5,10.0.0.300', '--cluster-cidr', '10.0.0.0/40']),
    (e: Error) =>
      e.message ===
      "hive netmon: invalid --pod-ip '10.0.0.300': expected an IPv4 or IPv6 address such as 10.0.0.5 or fd00::5\n" +
        "hive netmon: invalid --cluster-cidr '10.0.0.0/40': expected an address/prefix such as 10.0.0.0/8 or fd00::/64",
  );
  assert.throws(() => parseNetmonArgs(['--pod-ip', '10.0.0.5', '--mode', 'x']), /hive netmon: Unknown option '--mode'/);
  assert.throws(() => parseNetmonArgs(['--pod-ip', '10.0.0.5', '--idle-timeout', '0']), /--idle-timeout must be from 1 to 86400/);
});

// --- option tables: what the parser takes is what --help shows ---

const MAIN = path.resolve(__dirname, 'main.js');
const run = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env });

/** A value each option kind accepts, to show the parser knows the option. */
function sample(o: OptionDef): string[] {
  if (o.kind === 'flag') return [`--${o.name}`];
  if (o.kind === 'int') return [`--${o.name}`, String(o.min)];
  return [`--${o.name}`, o.choices?.[0] ?? (o.name === 'mode' ? 'auto' : o.name === 'access' ? 'read' : 'x')];
}

const PARSERS: Record<string, (argv: string[]) => unknown> = {
  trace: parseTraceArgs,
  explain: parseExplainArgs,
  probe: parseProbeArgs,
  netmon: parseNetmonArgs,
  agent: (argv) => parseAgentArgs(argv, { NODE_NAME: 'n' }),
  logs: parseLogsArgs,
  report: parseReportArgs,
};

test('every option a command parses appears in its --help, and every option --help shows is parsed', () => {
  assert.deepEqual(COMMANDS.map((c) => c.name).sort(), Object.keys(PARSERS).sort());
  for (const cmd of COMMANDS) {
    const r = run([cmd.name, '--help']);
    assert.equal(r.status, 0, `hive ${cmd.name} --help: ${r.stderr}`);
    assert.ok(r.stdout.startsWith(`usage: hive ${cmd.name}`), r.stdout);
    const shown = new Set([...r.stdout.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]));
    // the options node's parseArgs is given are the ones the help names ...
    const parsed = Object.keys(parseArgsOptions(cmd));
    for (const name of parsed) assert.ok(shown.has(name), `hive ${cmd.name} parses --${name} but its --help does not show it`);
    for (const name of shown) {
      // ... and each one shown is accepted (it may fail later for other reasons, never as unknown)
      const def = cmd.options.find((o) => o.name === name);
      if (!def) {
        assert.ok(name === 'help' || r.stdout.includes(`see 'hive ${cmd.name} --help'`), `--${name} in hive ${cmd.name} --help is not an option of the table`);
        continue;
      }
      const argv = [...sample(def), ...(cmd.name === 'trace' || cmd.name === 'explain' ? ['/a'] : []), ...(cmd.name === 'netmon' && name !== 'pod-ip' ? ['--pod-ip', '10.0.0.1'] : [])];
      try {
        PARSERS[cmd.name](argv);
      } catch (e) {
        assert.doesNotMatch((e as Error).message, /Unknown option/, `hive ${cmd.name} ${argv.join(' ')}`);
      }
    }
    assert.throws(() => PARSERS[cmd.name](['--no-such-option']), { message: `hive ${cmd.name}: Unknown option '--no-such-option'; see 'hive ${cmd.name} --help'` });
  }
  // the option TRACE_USAGE used to miss
  assert.match(helpText(TRACE), /--cri-socket PATH/);
  assert.match(usageLine(TRACE), /\[--cri-socket PATH\]/);
});

test('hive trace --help exits 0 whatever else is on the line; -h and hive help trace are the same', () => {
  const a = run(['trace', '--help']);
  assert.equal(a.status, 0);
  assert.equal(a.stdout, helpText(TRACE));
  assert.match(a.stdout, /--containerd-socket PATH +containerd's API socket \(env CONTAINERD_ADDRESS; default \/run\/containerd\/containerd.sock\)/);
  for (const argv of [['trace', '-h'], ['trace', '--max-watches', 'lots', '--help'], ['help', 'trace']]) {
    const r = run(argv);
    assert.equal(r.status, 0, argv.join(' '));
    assert.equal(r.stdout, a.stdout, argv.join(' '));
  }
  // a path named --help after -- is a path, not a request for help
  const p = run(['trace', '--frobnicate', '--', '--help']);
  assert.equal(p.status, 2);
  assert.match(p.stderr, /^hive trace: Unknown option '--frobnicate'/);
});

test('hive --version prints the version of package.json', () => {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V', 'version']) {
    const r = run([flag]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `hive ${pkg.version}\n`);
  }
  const top = run(['--help']);
  assert.equal(top.status, 0);
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${c.name} +${c.summary.slice(0, 20).replace(/[().]/g, '\\$&')}`, 'm'));
  const bad = run(['help', 'frob']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, "hive: unknown command 'frob'; commands: trace, explain, probe, netmon, agent, logs, report\n");
});

test('options fall back to their environment variable, then their default; an empty variable is unset', () => {
  assert.equal(parseTraceArgs(['/a'], { CONTAINERD_ADDRESS: '' }).containerdSocket, '/run/containerd/containerd.sock');
  assert.equal(parseTraceArgs(['/a'], { CONTAINERD_ADDRESS: '/e.sock' }).containerdSocket, '/e.sock');
  assert.equal(parseTraceArgs(['--containerd-socket', '/o.sock', '/a'], { CONTAINERD_ADDRESS: '/e.sock' }).containerdSocket, '/o.sock');
  const agent = parseAgentArgs(['--cluster-cidr', '10.1.0.0/16'], { NODE_NAME: 'n', HIVE_SERVICE_CIDR: '10.96.0.0/12,fd00::/108', HIVE_CLUSTER_CIDR: '10.2.0.0/16' });
  assert.deepEqual(agent.clusterCidrs.map((c) => c.text), ['10.96.0.0/12', 'fd00::/108', '10.1.0.0/16'], 'the option wins over its variable');
  assert.equal(agent.metricsPort, 9464);
  assert.equal(parseAgentArgs(['--metrics-port', '0'], { NODE_NAME: 'n' }).metricsPort, 0);
  assert.throws(
    () => parseAgentArgs([], { NODE_NAME: 'n', HIVE_SERVICE_CIDR: 'x', HIVE_CLUSTER_CIDR: '10.0.0.0/99' }),
    (e: Error) =>
      e.message ===
      "hive agent: invalid --service-cidr (env HIVE_SERVICE_CIDR) 'x': expected an address/prefix such as 10.0.0.0/8 or fd00::/64\n" +
        "hive agent: invalid --cluster-cidr (env HIVE_CLUSTER_CIDR) '10.0.0.0/99': expected an address/prefix such as 10.0.0.0/8 or fd00::/64",
  );
  assert.throws(() => parseAgentArgs([], {}), { message: /^hive agent: NODE_NAME is not set/ });
  assert.throws(() => parseAgentArgs(['x'], { NODE_NAME: 'n' }), { message: /^hive agent: unexpected argument 'x'; usage: hive agent \[--mode/ });
});

test('logs: choices, names and numbers are checked, each with one line', () => {
  const o = parseLogsArgs(['-f', '-n', 'ns', '--tail', '5', '--pod', 'team-a/web-1']);
  assert.deepEqual([o.follow, o.namespace, o.tail, o.pod, o.selector, o.kind], [true, 'ns', 5, 'team-a/web-1', 'app.kubernetes.io/name=hive', undefined]);
  assert.throws(() => parseLogsArgs(['--kind', 'dns']), { message: /^hive logs: --kind must be one of file, network, alert, got 'dns'$/ });
  assert.throws(() => parseLogsArgs(['--trace', 'Bad_Name']), { message: /^hive logs: --trace must be NAME or NAMESPACE\/NAME/ });
  assert.throws(() => parseLogsArgs(['--tail=-1']), { message: /^hive logs: --tail must be a whole number from 0 to \d+, got '-1'$/ });
  // node's own parse errors span lines; the CLI keeps their first sentence
  assert.throws(() => parseLogsArgs(['--tail', '-1']), { message: "hive logs: Option '--tail' argument is ambiguous; see 'hive logs --help'" });
  assert.throws(() => parseLogsArgs(['--tail']), { message: "hive logs: Option '--tail <value>' argument missing; see 'hive logs --help'" });
  assert.throws(() => parseLogsArgs(['extra']), { message: /^hive logs: unexpected argument 'extra'; usage: hive logs \[-f\|--follow\]/ });
});

test('report: --trace is NAMESPACE/NAME, anything else is one line', () => {
  assert.deepEqual(parseReportArgs([]), { trace: undefined, json: false });
  assert.deepEqual(parseReportArgs(['--trace', 'prod/secrets', '--json']), { trace: { namespace: 'prod', name: 'secrets' }, json: true });
  for (const bad of ['secrets', 'prod/', '/secrets', 'Prod/secrets', 'a/b/c', 'prod/sec_rets']) {
    assert.throws(() => parseReportArgs(['--trace', bad]), { message: `hive report: --trace must be NAMESPACE/NAME (lower-case DNS names), got '${bad}'` });
  }
  const r = run(['report', '--trace', 'nope']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "hive report: --trace must be NAMESPACE/NAME (lower-case DNS names), got 'nope'\n");
});

test('agent: the inventory size and interval, with their bounds', () => {
  const a = parseAgentArgs([], { NODE_NAME: 'n' });
  assert.deepEqual([a.inventorySize, a.inventoryIntervalMs], [50, 30_000]);
  const b = parseAgentArgs(['--inventory-size', '0', '--inventory-interval', '5'], { NODE_NAME: 'n' });
  assert.deepEqual([b.inventorySize, b.inventoryIntervalMs], [0, 5000]);
  assert.throws(() => parseAgentArgs(['--inventory-size', '501'], { NODE_NAME: 'n' }), { message: 'hive agent: --inventory-size must be from 0 to 500, got 501' });
});
