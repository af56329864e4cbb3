import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp, parseCidr, parseIp } from './addr';

test('IPv4 addresses map to ::ffff:a.b.c.d and format back', () => {
  const b = parseIp('10.1.2.3');
  assert.equal(b.toString('hex'), '00000000000000000000ffff0a010203');
  assert.equal(formatIp(b), '10.1.2.3');
  assert.equal(formatIp(parseIp('fd00::1')), 'fd00::1');
  assert.equal(parseIp('FD00:0:0::1').toString('hex'), 'fd000000000000000000000000000001');
});

test('CIDRs: IPv4 prefixes count from the mapped form, host bits cleared', () => {
  const c = parseCidr('10.1.2.3/8');
  assert.equal(c.prefixLen, 104);
  assert.equal(c.text, '10.0.0.0/8');
  assert.equal(formatIp(c.addr), '10.0.0.0');
  assert.deepEqual([parseCidr('fd00::/64').prefixLen, parseCidr('192.168.1.1').prefixLen], [64, 128]);
  assert.equal(parseCidr('0.0.0.0/0').prefixLen, 96);
});

test('bad addresses and CIDRs are refused with what is allowed', () => {
  for (const bad of ['10.1.2', '10.1.2.256', 'pod-a', '', '10.0.0.0/8', 'fd00::g']) {
    assert.throws(() => parseIp(bad, '--pod-ip'), /invalid --pod-ip .*expected an IPv4 or IPv6 address/, bad);
  }
  for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0.0/', 'x/8', '10.0.0.0/-1']) {
    assert.throws(() => parseCidr(bad, '--cluster-cidr'), /invalid --cluster-cidr .*address\/prefix/, bad);
  }
});
