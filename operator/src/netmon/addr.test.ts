import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp, inPrefix, isIpv4Mapped, parseCidr, parseIp } from './addr';

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

test('CIDR edge cases: /0, full-length prefixes, host bits of IPv6, and prefix membership', () => {
  assert.deepEqual(parseCidr('0.0.0.0/0'), { text: '0.0.0.0/0', addr: parseIp('0.0.0.0'), prefixLen: 96 });
  assert.equal(parseCidr('::/0').prefixLen, 0);
  assert.equal(parseCidr('10.1.2.3/32').text, '10.1.2.3/32');
  assert.equal(parseCidr('10.1.2.255/25').text, '10.1.2.128/25');
  assert.equal(parseCidr('fd00:1:2:3:4::9/68').text, 'fd00:1:2:3::/68');
  assert.equal(parseCidr('fd00::1').text, 'fd00::1/128');
  const c = parseCidr('10.8.0.0/13');
  assert.equal(inPrefix(parseIp('10.15.255.255'), c.addr, c.prefixLen), true);
  assert.equal(inPrefix(parseIp('10.16.0.0'), c.addr, c.prefixLen), false);
  assert.equal(inPrefix(parseIp('fd00::10.8.0.1'), c.addr, c.prefixLen), false, 'an IPv6 address is never in an IPv4 CIDR');
  assert.equal(isIpv4Mapped(parseIp('10.0.0.1')), true);
  assert.equal(isIpv4Mapped(parseIp('fd00::1')), false);
});
