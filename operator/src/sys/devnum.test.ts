import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { formatDev, kernelDev, kernelDevFromStat, splitKernelDev, splitUserDev } from './devnum';

test('glibc dev_t splits into major and minor, small and large', () => {
  assert.deepEqual(splitUserDev(0x0801n), { major: 8, minor: 1 });
  assert.deepEqual(splitUserDev(0xfe00n), { major: 254, minor: 0 });
  // gnu_dev_makedev(0x123, 0x45678): minor's high bits live at 12..31
  const dev = (0x45678n & 0xffn) | ((0x123n & 0xfffn) << 8n) | ((0x45678n & ~0xffn) << 12n);
  assert.deepEqual(splitUserDev(dev), { major: 0x123, minor: 0x45678 });
});

test('kernel encoding is major << 20 | minor', () => {
  assert.equal(kernelDev({ major: 8, minor: 1 }), (8 << 20) | 1);
  assert.equal(kernelDev({ major: 0, minor: 39 }), 39);
  assert.equal(kernelDev({ major: 4095, minor: 0xfffff }), 0xffffffff);
  assert.deepEqual(splitKernelDev((254 << 20) | 3), { major: 254, minor: 3 });
  assert.equal(formatDev((254 << 20) | 3), '254:3');
  assert.throws(() => kernelDev({ major: 4096, minor: 0 }), /does not fit/);
});

test('stat of a real file converts to a dev whose text matches /proc/self/mountinfo', () => {
  const st = fs.statSync('/proc/self/mountinfo', { bigint: true });
  const devText = formatDev(kernelDevFromStat(st.dev));
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  assert.ok(
    mountinfo.split('\n').some((l) => l.split(' ')[2] === devText),
    `${devText} (proc's device) not found in mountinfo`,
  );
});
