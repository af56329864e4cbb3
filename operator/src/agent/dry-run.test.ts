// A dry run's explanation against a real directory tree laid out as
// /proc/<pid> would be (root/ and mountinfo): bounded, sorted, the unresolved
// paths returned as the reconciler reports them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { Explanation } from './dry-run';
import { parseIp } from '../netmon/addr';

let hostProc: string;

before(() => {
  hostProc = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-dry-'));
  const root = path.join(hostProc, '77/root');
  fs.mkdirSync(path.join(root, 'etc/conf.d'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/secret'), 's');
  fs.symlinkSync('/etc/secret', path.join(root, 'etc/secret-link'));
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(root, `etc/conf.d/${i}.conf`), '');
  fs.writeFileSync(path.join(hostProc, '77/mountinfo'), '1 0 0:1 / / rw - overlay overlay rw,lowerdir=/nowhere/l0,upperdir=/nowhere/u\n');
  fs.mkdirSync(path.join(hostProc, 'net'));
  // one route: 10.9.0.0/16 via cni0 (as /proc/net/route prints it, little-endian hex)
  fs.writeFileSync(
    path.join(hostProc, 'net/route'),
    'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\ncni0\t0000090A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n',
  );
});
after(() => fs.rmSync(hostProc, { recursive: true, force: true }));

test('per container: files with their hops and mount, reasons for the rest, bounded with omitted', () => {
  const x = new Explanation({ hostProc, maxMatches: 100, limit: 5, procNet: path.join(hostProc, 'net'), linkDriver: (n) => (n === 'cni0' ? 'bridge' : null) });
  const un = x.container('web-1', 'app', 77, ['/etc/secret-link', '/etc/conf.d/*.conf', '/etc/missing']);
  assert.deepEqual(un, [{ pod: 'web-1', container: 'app', path: '/etc/missing', reason: "missing: no 'missing' in /etc (the watch waits there for it to appear)" }]);
  const pod = { namespace: 'ns', name: 'web-1', uid: 'u' };
  x.network([
    { ip: '10.9.1.2', addr: parseIp('10.9.1.2', 'ip'), pod, trace: { namespace: 'ns', name: 't' }, flags: 1 },
    { ip: '192.0.2.1', addr: parseIp('192.0.2.1', 'ip'), pod, trace: { namespace: 'ns', name: 't' }, flags: 1 },
  ]);
  const r = x.report();
  assert.equal(r.files, 7, 'the secret and six conf files');
  assert.equal(r.podAddresses, 2);
  assert.equal(r.entries.length, 5);
  assert.equal(r.omitted, 10 - 5, '1 link + 6 matches + 1 missing + 2 addresses');
  // sorted by container, then path: the network entries ('*') come first
  assert.deepEqual(r.entries.slice(0, 2).map((e) => [e.address, e.interface, e.reason !== undefined]), [
    ['10.9.1.2', 'cni0', false],
    ['192.0.2.1', undefined, true],
  ]);
  assert.deepEqual(r.entries.slice(2).map((e) => e.file), ['/etc/conf.d/0.conf', '/etc/conf.d/1.conf', '/etc/conf.d/2.conf']);
  const all = new Explanation({ hostProc, maxMatches: 100 });
  all.container('web-1', 'app', 77, ['/etc/secret-link']);
  const link = all.report().entries[0];
  assert.equal(link.final, '/etc/secret');
  assert.equal(link.inode, fs.statSync(path.join(hostProc, '77/root/etc/secret'), { bigint: true }).ino.toString());
  assert.equal(link.hops, 1);
  assert.match(link.via![0], /^\/etc\/secret-link -> \/etc\/secret \(confined: absolute target, resolved from the root/);
  assert.match(link.mount!, /^overlay overlay on \/, layer unknown: layer directory \/nowhere\/u not readable from here/);
});
