import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultHostProc, parseTraceArgs, parseProbeArgs } from './args';
import { ACCESS, ACCESS_ALL } from '../bpf/layout';
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
