// `hive logs`: reads the agents' logs through the Kubernetes API (the pods of
// the DaemonSet, by label) and prints their events like `hive trace --pretty`.
// One agent whose logs cannot be read is reported and the others still shown.
import { PassThrough } from 'node:stream';
import readline from 'node:readline';
import { HiveError, errorMessage } from '../util/errors';
import { k8sLib, loadKubeConfig } from '../kube/client';
import { renderAgentLine } from './render-log';
import { LogsOptions } from './args';

export async function runLogs(o: LogsOptions): Promise<number> {
  const print = (line: string) => {
    const out = renderAgentLine(line, o);
    if (out !== null) process.stdout.write(`${out}\n`);
  };
  if (o.stdin) {
    // kubectl logs ... | hive logs --stdin: no API access needed (e.g. from the image)
    for await (const line of readline.createInterface({ input: process.stdin })) print(line);
    return 0;
  }
  const kc = await loadKubeConfig({ userDefault: true });
  const { CoreV1Api, Log } = await k8sLib();
  const core = kc.makeApiClient(CoreV1Api);
  let pods;
  try {
    pods = (await core.listNamespacedPod({ namespace: o.namespace, labelSelector: o.selector })).items;
  } catch (e) {
    throw new HiveError(`hive logs: cannot list the agent pods in ${o.namespace}: ${errorMessage(e)}`, 1);
  }
  if (pods.length === 0) {
    throw new HiveError(`hive logs: no agent pods with label ${o.selector} in namespace ${o.namespace} (deploy with 'make deploy')`, 1);
  }
  let failed = 0;
  await Promise.all(
    pods.map(async (p) => {
      const name = p.metadata!.name!;
      try {
        if (o.follow) {
          const stream = new PassThrough();
          readline.createInterface({ input: stream }).on('line', print);
          const done = new Promise<void>((resolve) => stream.on('end', resolve));
          await new Log(kc).log(o.namespace, name, o.container, stream, { follow: true, tailLines: o.tail });
          await done;
        } else {
          const text = await core.readNamespacedPodLog({ namespace: o.namespace, name, container: o.container, tailLines: o.tail });
          for (const line of String(text).split('\n')) print(line);
        }
      } catch (e) {
        failed++;
        process.stderr.write(`hive logs: cannot read the logs of ${o.namespace}/${name}: ${errorMessage(e).split('\n')[0]}\n`);
      }
    }),
  );
  return failed === pods.length ? 1 : 0;
}
