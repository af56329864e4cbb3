// What `hive probe` finds on the running kernel. Where the kernel is known (the
// qemu matrix sets HIVE_EXPECT_MODES and HIVE_EXPECT_AUTO), the findings must
// be exactly those; anywhere, they must agree with each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { probe } from './probe';
import { FileAccessMonitor } from './monitor';
import { AUTO_ORDER, MODES } from './modes';
import { kernelSkip } from '../testing/kernel';
import { log } from '../util/log';

test('probe: modes, auto choice and the inode argument position', { skip: kernelSkip() }, () => {
  const p = probe(log.child({ module: 'probe-test' }));
  // the kernel matrix reads what was found from here for its summary
  if (process.env.HIVE_PROBE_REPORT) fs.writeFileSync(process.env.HIVE_PROBE_REPORT, JSON.stringify(p, null, 2));
  assert.equal(p.btf, true);
  assert.equal(p.auto, AUTO_ORDER.find((m) => p.modes[m].supported) ?? null);
  for (const m of MODES) if (!p.modes[m].supported) assert.ok(p.modes[m].reason, `${m} says why not`);
  // inode_permission(idmap/userns, inode, mask) since 5.12; (inode, mask) before
  assert.ok(p.inodePermissionInodeArg === 0 || p.inodePermissionInodeArg === 1, String(p.inodePermissionInodeArg));
  const expect = process.env.HIVE_EXPECT_MODES;
  if (expect) {
    const want = expect.split(',');
    assert.deepEqual(
      MODES.filter((m) => p.modes[m].supported),
      MODES.filter((m) => want.includes(m)),
      JSON.stringify(p.modes),
    );
  }
  if (process.env.HIVE_EXPECT_AUTO) assert.equal(p.auto, process.env.HIVE_EXPECT_AUTO);
  // what --mode auto really attaches is what the probe predicts
  const { monitor } = FileAccessMonitor.open({ mode: 'auto', maxWatches: 16, ringBufferBytes: 4096 });
  try {
    assert.equal(monitor.mode, p.auto);
  } finally {
    monitor.close();
  }
});
