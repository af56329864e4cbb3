import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { podSignature } from './pod-signature';

const pod = (): k8s.V1Pod => ({
  metadata: { name: 'web-1', namespace: 'a', uid: 'u1', labels: { app: 'web', tier: 'x' }, resourceVersion: '10' },
  spec: { containers: [{ name: 'app' }, { name: 'side' }] },
  status: {
    phase: 'Running',
    podIP: '10.0.0.2',
    podIPs: [{ ip: '10.0.0.2' }],
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [
      { name: 'app', containerID: 'containerd://aaa', image: 'i', imageID: 'i', ready: true, restartCount: 0, state: { running: {} } },
      { name: 'side', containerID: 'containerd://bbb', image: 'i', imageID: 'i', ready: true, restartCount: 0, state: { running: {} } },
    ],
  },
});

test('updates a reconcile does not depend on leave the signature alone', () => {
  const a = pod();
  const b = pod();
  b.metadata!.resourceVersion = '11';
  b.metadata!.labels = { tier: 'x', app: 'web' }; // same labels, other order
  b.status!.conditions = [{ type: 'Ready', status: 'False', reason: 'probe' }];
  b.status!.containerStatuses!.reverse();
  b.status!.containerStatuses![0].ready = false;
  b.status!.containerStatuses![0].restartCount = 0;
  assert.equal(podSignature(a), podSignature(b));
});

test('labels, ids, states, addresses, phase and deletion change it', () => {
  const base = podSignature(pod());
  const changes: ((p: k8s.V1Pod) => void)[] = [
    (p) => (p.metadata!.labels!.app = 'other'),
    (p) => (p.status!.containerStatuses![0].containerID = 'containerd://ccc'),
    (p) => (p.status!.containerStatuses![1].state = { terminated: { exitCode: 1 } }),
    (p) => (p.status!.podIPs = [{ ip: '10.0.0.3' }]),
    (p) => (p.status!.phase = 'Succeeded'),
    (p) => (p.metadata!.deletionTimestamp = new Date()),
    (p) => (p.spec!.hostNetwork = true),
  ];
  for (const [i, change] of changes.entries()) {
    const p = pod();
    change(p);
    assert.notEqual(podSignature(p), base, `change ${i}`);
  }
});
