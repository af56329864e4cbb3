// `make node-up` / `make node-down`: the real node of testing/node.ts. up
// starts what is not running yet (the API server with --node, containerd,
// the controllers, the kubelet), waits for the node to be Ready and prints
// `export KUBECONFIG=...` as its last line; down stops the node's daemons in
// order (the API server stays: make cluster-down).
import { RealNode } from './node';

async function main(): Promise<number> {
  const cmd = process.argv[2];
  const log = (m: string) => process.stderr.write(`node-${cmd}: ${m}\n`);
  if (cmd === 'up') {
    const node = await RealNode.up({ log });
    node.cri.close();
    process.stdout.write(`export KUBECONFIG=${node.cluster.kubeconfig}\n`);
    return 0;
  }
  if (cmd === 'down') {
    const node = RealNode.attach();
    await node.down(log);
    node.removeLeftovers(log);
    return 0;
  }
  process.stderr.write(`node-ctl: unknown command '${cmd ?? ''}': allowed: up, down\n`);
  return 2;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`node: ${e.message}\n`);
    process.exit(1);
  },
);
