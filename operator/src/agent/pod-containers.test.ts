import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podContainers, resolvedNow } from './pod-containers';
import { podSignature } from './pod-signature';

const running = (name: string) => ({ name, ready: true, restartCount: 0, image: `img-${name}`, imageID: '', containerID: `containerd://${name}`, state: { running: { startedAt: new Date() } } });
const done = (name: string) => ({ ...running(name), state: { terminated: { exitCode: 0 } } });

test('every kind of container: a native sidecar and the containers always, init and ephemeral ones while they run (SECURITY-REVIEW L2)', () => {
  const pod = {
    spec: {
      initContainers: [{ name: 'setup' }, { name: 'proxy', restartPolicy: 'Always' }],
      containers: [{ name: 'app', image: 'app:1' }, { name: 'idle' }],
      ephemeralContainers: [{ name: 'debugger' }, { name: 'old-debugger' }],
    },
    status: {
      initContainerStatuses: [done('setup'), running('proxy')],
      containerStatuses: [running('app')],
      ephemeralContainerStatuses: [running('debugger'), done('old-debugger')],
    },
  };
  const cs = podContainers(pod as never);
  assert.deepEqual(cs.map((c) => [c.name, c.kind, resolvedNow(c)]), [
    ['setup', 'init', false],
    ['proxy', 'sidecar', true],
    ['app', 'container', true],
    // a container that does not run is resolved, and so reported unresolved: never a silent Ready
    ['idle', 'container', true],
    ['debugger', 'ephemeral', true],
    ['old-debugger', 'ephemeral', false],
  ]);
  assert.equal(cs.find((c) => c.name === 'proxy')!.status!.image, 'img-proxy');
  assert.equal(cs.find((c) => c.name === 'idle')!.status, undefined);
  // a sidecar or a debug container starting is a reason to reconcile
  const before = podSignature(pod as never);
  const after = { ...pod, status: { ...pod.status, ephemeralContainerStatuses: [running('debugger'), running('old-debugger')] } };
  assert.notEqual(podSignature(after as never), before);
});
