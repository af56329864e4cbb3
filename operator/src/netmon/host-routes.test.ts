import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoute4, parseRoute6, routeInterface } from './host-routes';
import { parseIp } from './addr';

// Recorded from a node with a bridge CNI (cni0) and a routed pod (cali1234).
const ROUTE4 = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
cni0\t0000F40A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
cali1234\t0501F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0
down0\t0000000B\t00000000\t0000\t0\t0\t0\t000000FF\t0\t0\t0
`;
const ROUTE6 = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fd100000000000000000000000000000 50 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     vethab
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo
`;

test('the longest IPv4 prefix wins; routes that are not up are ignored', () => {
  const r = parseRoute4(ROUTE4);
  assert.equal(r.length, 4);
  assert.equal(routeInterface(parseIp('10.244.1.5'), r), 'cali1234');
  assert.equal(routeInterface(parseIp('10.244.1.6'), r), 'cni0');
  assert.equal(routeInterface(parseIp('192.0.2.77'), r), 'eth0');
  assert.equal(routeInterface(parseIp('11.0.0.1'), r), 'eth0', 'down0 is not up: the default route');
});

test('IPv6 routes; an IPv4 address never matches an IPv6 route', () => {
  const r = parseRoute6(ROUTE6);
  assert.equal(r.length, 2, 'lo skipped');
  assert.equal(routeInterface(parseIp('fd10::5'), r), 'vethab');
  assert.equal(routeInterface(parseIp('fd00::5'), r), 'eth0');
  assert.equal(routeInterface(parseIp('10.0.0.1'), r), undefined);
});
