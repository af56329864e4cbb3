// `hive trace|explain --pid/--container/--cri-socket`: which process root the
// paths live in, found through containerd or a CRI runtime (cli/trace.ts
// watches the paths in that root, cli/explain.ts explains them). Loaded only
// for those options (it brings the gRPC stack).
import fs from 'node:fs';
import { log as rootLog } from '../util/log';
import { HiveError } from '../util/errors';
import { ContainerdClient, K8S_NAMESPACE, parseContainerId } from '../runtime/client';
import { isNotFound } from '../runtime/grpc-call';
import { CriClient } from '../runtime/cri';
import { PathScopeOptions } from './args';

const log = rootLog.child({ module: 'trace' });

/** What finding the root needs (trace's and explain's options share these). */
export type TargetOptions = Pick<PathScopeOptions, 'pid' | 'container' | 'containerdSocket' | 'criSocket' | 'hostProc'>;

/** The process whose root the paths live in, and the container it belongs to. */
export interface ContainerTarget {
  pid: number;
  root: string;
  container?: { id: string; name: string; image?: string };
  client?: ContainerdClient;
}

/** Over CRI (CRI-O and other runtimes): pid and name from ContainerStatus. No
 * task events in CRI v1, so a restart is not followed: the command says so. */
async function criTarget(opts: TargetOptions, criSocket: string, cmd: string): Promise<ContainerTarget> {
  const id = parseContainerId(opts.container!, null);
  if (!fs.existsSync(criSocket)) throw new HiveError(`hive ${cmd}: CRI socket not found at ${criSocket}`);
  const cri = new CriClient(criSocket, 5000);
  try {
    let st;
    try {
      st = await cri.containerStatus(id);
    } catch (e) {
      if (isNotFound(e)) throw new HiveError(`hive ${cmd}: container ${id} not found by the CRI runtime at ${criSocket}`);
      throw e;
    }
    if (!st.pid) throw new HiveError(`hive ${cmd}: container ${id} is not running`);
    if (cmd === 'trace') log.warn({ container: id }, 'over CRI a container restart is not followed: run hive trace again after one');
    return { pid: st.pid, root: rootOf(opts, st.pid), container: { id, name: st.name } };
  } finally {
    cri.close();
  }
}

/** `cmd` names the command in error lines. */
export async function containerTarget(opts: TargetOptions, cmd = 'trace'): Promise<ContainerTarget> {
  if (opts.container !== undefined && opts.criSocket) return criTarget(opts, opts.criSocket, cmd);
  if (opts.container !== undefined) {
    const id = parseContainerId(opts.container);
    const client = new ContainerdClient(opts.containerdSocket, K8S_NAMESPACE, log);
    try {
      client.checkSocket();
      let info;
      try {
        info = await client.getContainer(id);
      } catch (e) {
        if (isNotFound(e)) throw new HiveError(`hive ${cmd}: container ${id} not found in containerd (namespace ${K8S_NAMESPACE})`);
        throw e;
      }
      const pid = await client.taskPid(id);
      if (!pid) throw new HiveError(`hive ${cmd}: container ${id} has no running task`);
      return { pid, root: rootOf(opts, pid), container: info.image ? { id, name: info.name, image: info.image } : { id, name: info.name }, client };
    } catch (e) {
      client.close();
      throw e;
    }
  }
  const pid = opts.pid!;
  if (!fs.existsSync(`${opts.hostProc}/${pid}`)) throw new HiveError(`hive ${cmd}: no process ${pid} in ${opts.hostProc}`);
  const id = containerIdOfPid(opts.hostProc, pid);
  return { pid, root: rootOf(opts, pid), container: id ? { id, name: await containerName(opts, id) } : undefined };
}

/** The container's name from containerd, when it answers; else its id. */
async function containerName(opts: TargetOptions, id: string): Promise<string> {
  if (!fs.existsSync(opts.containerdSocket)) return id;
  const client = new ContainerdClient(opts.containerdSocket, K8S_NAMESPACE, log, 2000);
  try {
    return (await client.getContainer(id)).name;
  } catch {
    return id;
  } finally {
    client.close();
  }
}

export function rootOf(opts: Pick<TargetOptions, 'hostProc'>, pid: number): string {
  return `${opts.hostProc}/${pid}/root`;
}

/** The 64-hex container id in a process's cgroup path, when it has one. */
function containerIdOfPid(hostProc: string, pid: number): string | undefined {
  try {
    return /[0-9a-f]{64}/.exec(fs.readFileSync(`${hostProc}/${pid}/cgroup`, 'utf8'))?.[0];
  } catch {
    return undefined;
  }
}
