// The node's container runtime as the agent needs it: a container's init pid
// by its id (the id the kubelet reports in the pod's status), and the starts
// of container tasks where the runtime reports them. containerd is asked over
// its own API (task Get; task events); any other CRI runtime (CRI-O) over CRI
// (ContainerStatus verbose), which has no event stream in v1: a restart there
// shows as a new container id in the pod's status, and the resync covers the rest.
import fs from 'node:fs';
import { HiveError } from '../util/errors';
import { Logger } from '../util/log';
import { ContainerdClient, K8S_NAMESPACE } from '../runtime/client';
import { LABEL_CONTAINER_NAME, LABEL_KIND, LABEL_POD_UID } from '../runtime/constants';
import { CriClient } from '../runtime/cri';
import { isNotFound } from '../runtime/grpc-call';

export interface ContainerRuntime {
  /** The runtime a status's "<runtime>://<id>" must name; null: any (CRI). */
  readonly runtimeName: string | null;
  /** Fails clearly when the socket is missing. */
  checkSocket(): void;
  /** The init pid of a running container; null when it does not run or is unknown. */
  pid(containerId: string): Promise<number | null>;
  /**
   * The pod (uid) and container name a container id belongs to, from the
   * runtime's own labels: a started task is known before the kubelet's next
   * status report names it. null when the runtime cannot tell.
   */
  identify(containerId: string): Promise<{ podUid: string; container: string } | null>;
  /** Calls onStart for each task start, onGap after events may have been missed. */
  follow(onStart: (containerId: string) => void, onGap: () => void): void;
  close(): void;
}

export class ContainerdRuntime implements ContainerRuntime {
  readonly runtimeName = 'containerd';
  private readonly client: ContainerdClient;

  constructor(socket: string, log: Logger) {
    this.client = new ContainerdClient(socket, K8S_NAMESPACE, log);
  }

  checkSocket(): void {
    this.client.checkSocket();
  }

  pid(containerId: string): Promise<number | null> {
    return this.client.taskPid(containerId);
  }

  async identify(containerId: string): Promise<{ podUid: string; container: string } | null> {
    try {
      const c = await this.client.getContainer(containerId);
      const podUid = c.labels[LABEL_POD_UID];
      const container = c.labels[LABEL_CONTAINER_NAME];
      // a pod's sandbox (pause) container carries the pod's uid but is no container of its spec
      return podUid && container && c.labels[LABEL_KIND] !== 'sandbox' ? { podUid, container } : null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  follow(onStart: (containerId: string) => void, onGap: () => void): void {
    this.client.subscribeTasks((ev) => {
      if (ev.topic === '/tasks/start') onStart(ev.containerId);
    }, onGap);
  }

  close(): void {
    this.client.close();
  }
}

export class CriRuntime implements ContainerRuntime {
  readonly runtimeName = null;
  private readonly client: CriClient;

  constructor(private readonly socket: string) {
    this.client = new CriClient(socket, 5000);
  }

  checkSocket(): void {
    if (!fs.existsSync(this.socket)) throw new HiveError(`CRI socket not found at ${this.socket} (set --cri-socket or HIVE_CRI_SOCKET)`);
  }

  async pid(containerId: string): Promise<number | null> {
    try {
      return (await this.client.containerStatus(containerId)).pid;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async identify(): Promise<null> {
    return null; // no task events to identify over CRI
  }

  follow(): void {
    // CRI v1 has no event stream
  }

  close(): void {
    this.client.close();
  }
}
