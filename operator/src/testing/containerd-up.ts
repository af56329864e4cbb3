// `make containerd-up`: the test harness's private containerd with one pod
// (container "app"), for trying `hive trace --container` by hand. Prints the
// environment to use it and keeps running until SIGINT/SIGTERM
// (`make containerd-down`), then tears everything down.
import fs from 'node:fs';
import path from 'node:path';
import { ContainerdHarness } from './containerd-harness';

const envFile = path.resolve(__dirname, '../../../build/containerd-harness.env');

async function main() {
  const h = await ContainerdHarness.start();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    fs.rmSync(envFile, { force: true });
    await h.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const pod = await h.runPod('demo', ['app']);
    const c = pod.containers[0];
    const env = `export CONTAINERD_ADDRESS=${h.socket}\nexport HIVE_DEMO_CONTAINER=${c.id}\nexport HIVE_DEMO_PID=${c.pid}\n`;
    fs.writeFileSync(envFile, env);
    process.stdout.write(env);
  } catch (e) {
    console.error(`containerd-up: ${(e as Error).message}`);
    await stop();
  }
}

void main();
