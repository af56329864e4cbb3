import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultHostProc, parseTraceArgs, parseProbeArgs, parseNetmonArgs } from './args';
import { ACCESS, ACCESS_ALL } from '../fileaccess/layout';
import { UsageError } from '../util/errors';

test('trace defaults', () => {
  const saved = process.env.CONTAINERD_ADDRESS;
  delete process.env.CONTAINERD_ADDRESS;
  try {
    assert.deepEqual(parseTraceArgs(['/etc/shadow']), {
      mode: 'auto',
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

test('trace options', () => {
  const o = parseTraceArgs(['--mode', 'fentry', '--access', 'write', '--pretty', '--max-watches', '10', '/a', '/b']);
  assert.equal(o.mode, 'fentry');
  assert.equal(o.access, ACCESS.write);
  assert.equal(o.pretty, true);
  assert.equal(o.maxWatches, 10);
  assert.deepEqual(o.paths, ['/a', '/b']);
  assert.equal(parseTraceArgs(['--mode=tracepoint', '/a']).mode, 'tracepoint');
});

test('trace rejects bad input with one line naming what is allowed', () => {
  const cases: [string[], RegExp][] = [
    [['--mode', 'ebpf', '/a'], /unknown mode 'ebpf'; allowed: auto, kprobe, fentry, lsm, tracepoint/],
    [['--access', 'delete', '/a'], /unknown access 'delete'; allowed: read, write, exec/],
    [['--max-watches', '0', '/a'], /--max-watches must be from 1 to/],
    [['--max-watches', 'lots', '/a'], /--max-watches must be a whole number/],
    [['--frobnicate', '/a'], /hive trace: Unknown option '--frobnicate'/],
    [[], /no paths given/],
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
