// containerd over its gRPC socket: container metadata, the task's init pid,
// and the task lifecycle event stream (restarts are noticed from it). Every
// call names the namespace (k8s.io for Kubernetes pods) and has a deadline, so
// a runtime that does not answer is an error, not a hang.
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { HiveError } from '../util/errors';
import { Backoff } from '../util/backoff';
import { Logger, log as rootLog } from '../util/log';
import { containerdProto, decodeAny } from './protos';
import { isNotFound, unaryCall } from './grpc-call';
import type { ContainersClient } from '../generated/proto/containerd/services/containers/v1/Containers';
import type { TasksClient } from '../generated/proto/containerd/services/tasks/v1/Tasks';
import type { EventsClient } from '../generated/proto/containerd/services/events/v1/Events';
import type { Container__Output } from '../generated/proto/containerd/services/containers/v1/Container';
import type { Envelope__Output } from '../generated/proto/containerd/services/events/v1/Envelope';
import type { GetContainerResponse__Output } from '../generated/proto/containerd/services/containers/v1/GetContainerResponse';
import type { GetResponse__Output } from '../generated/proto/containerd/services/tasks/v1/GetResponse';
import type { ListPidsResponse__Output } from '../generated/proto/containerd/services/tasks/v1/ListPidsResponse';

import { DEFAULT_CONTAINERD_SOCKET, K8S_NAMESPACE, LABEL_CONTAINER_NAME } from './constants';
export * from './constants';

export interface ContainerInfo {
  id: string;
  labels: Record<string, string>;
  image: string;
  /** io.kubernetes.container.name, or the id for containers not made by CRI. */
  name: string;
}

export interface TaskEvent {
  topic: '/tasks/start' | '/tasks/exit' | '/tasks/delete';
  containerId: string;
  /** Only the init process's events are reported (exec'd processes are not). */
  pid: number;
}

/** "<runtime>://<id>" (as Kubernetes reports it) or a bare id; `runtime` is
 * what the id must belong to (null: any runtime, as over CRI). */
export function parseContainerId(s: string, runtime: string | null = 'containerd'): string {
  const m = /^(?:([a-z0-9-]+):\/\/)?([0-9a-zA-Z][0-9a-zA-Z_.-]*)$/.exec(s);
  if (!m) throw new HiveError(`bad container id '${s}': expected <id> or <runtime>://<id>`);
  if (runtime && m[1] && m[1] !== runtime) {
    throw new HiveError(`container '${s}' is not a ${runtime} container (runtime '${m[1]}'; use --cri-socket for other runtimes)`);
  }
  return m[2];
}

export class ContainerdClient {
  private readonly containers: ContainersClient;
  private readonly tasks: TasksClient;
  private readonly events: EventsClient;
  private readonly log: Logger;
  private closed = false;
  private stream: grpc.ClientReadableStream<Envelope__Output> | null = null;

  constructor(
    readonly socket = process.env.CONTAINERD_ADDRESS || DEFAULT_CONTAINERD_SOCKET,
    readonly namespace = K8S_NAMESPACE,
    log: Logger = rootLog,
    readonly timeoutMs = 5000,
  ) {
    this.log = log.child({ module: 'containerd', socket });
    const p = containerdProto();
    const addr = `unix://${socket}`;
    const creds = grpc.credentials.createInsecure();
    // Reconnect quickly after containerd restarts (grpc-js would back off up to 2 min).
    const options = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 2000 };
    // One channel for the three services: they share the connection.
    this.containers = new p.containerd.services.containers.v1.Containers(addr, creds, options);
    const channelOverride = this.containers.getChannel();
    this.tasks = new p.containerd.services.tasks.v1.Tasks(addr, creds, { channelOverride });
    this.events = new p.containerd.services.events.v1.Events(addr, creds, { channelOverride });
  }

  /** Fails clearly when the socket is missing (before any call waits on it). */
  checkSocket(): void {
    if (!fs.existsSync(this.socket)) {
      throw new HiveError(
        `containerd socket not found at ${this.socket} (set --containerd-socket or CONTAINERD_ADDRESS)`,
      );
    }
  }

  private md(): grpc.Metadata {
    const m = new grpc.Metadata();
    m.set('containerd-namespace', this.namespace);
    return m;
  }

  private unary<Res>(
    op: string,
    call: (md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<Res>) => unknown,
  ): Promise<Res> {
    return unaryCall('containerd', this.socket, op, this.md(), this.timeoutMs, call);
  }

  private info(c: Container__Output): ContainerInfo {
    const labels = c.labels ?? {};
    return { id: c.id, labels, image: c.image, name: labels[LABEL_CONTAINER_NAME] ?? c.id };
  }

  async getContainer(id: string): Promise<ContainerInfo> {
    const res = await this.unary<GetContainerResponse__Output>('get container ' + id, (md, o, cb) =>
      this.containers.Get({ id }, md, o, cb),
    );
    if (!res.container) throw new HiveError(`containerd get container ${id}: no container in the answer`);
    return this.info(res.container);
  }

  /** The pid of the container's init process, or null when no task runs. */
  async taskPid(containerId: string): Promise<number | null> {
    try {
      const res = await this.unary<GetResponse__Output>('get task ' + containerId, (md, o, cb) =>
        this.tasks.Get({ container_id: containerId }, md, o, cb),
      );
      const p = res.process;
      return p && p.status === 'RUNNING' && p.pid > 0 ? p.pid : null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async listPids(containerId: string): Promise<number[]> {
    const res = await this.unary<ListPidsResponse__Output>('list pids of ' + containerId, (md, o, cb) =>
      this.tasks.ListPids({ container_id: containerId }, md, o, cb),
    );
    return res.processes.map((p) => p.pid);
  }

  /**
   * Follows task start/exit/delete events of this namespace until close().
   * The stream is re-opened with backoff when containerd goes away; `onGap` is
   * called after a reconnect, since events may have been missed meanwhile.
   */
  subscribeTasks(onEvent: (e: TaskEvent) => void, onGap: () => void = () => {}): void {
    const backoff = new Backoff({ initialMs: 100, maxMs: 5000 });
    const open = (reconnect: boolean) => {
      if (this.closed) return;
      const stream = this.events.Subscribe({ filters: [`namespace==${this.namespace},topic~="^/tasks/"`] }, this.md());
      this.stream = stream;
      let gotData = false;
      stream.on('data', (env: Envelope__Output) => {
        if (!gotData) {
          gotData = true;
          backoff.reset();
        }
        let ev: TaskEvent | null = null;
        try {
          ev = this.toTaskEvent(env);
        } catch (e) {
          this.log.warn({ topic: env.topic, err: (e as Error).message }, 'undecodable event skipped');
        }
        if (ev) onEvent(ev);
      });
      stream.on('metadata', () => {
        if (reconnect) {
          this.log.info('event stream re-opened');
          onGap();
        }
        backoff.reset();
      });
      stream.on('error', (e: grpc.ServiceError) => {
        if (this.closed || e.code === grpc.status.CANCELLED) return;
        const retryInMs = backoff.next();
        this.log.warn({ err: e.details || e.message, retryInMs }, 'event stream lost; reconnecting');
        setTimeout(() => open(true), retryInMs).unref();
      });
      stream.on('end', () => undefined);
    };
    open(false);
  }

  private toTaskEvent(env: Envelope__Output): TaskEvent | null {
    const topic = env.topic as TaskEvent['topic'];
    if (topic !== '/tasks/start' && topic !== '/tasks/exit' && topic !== '/tasks/delete') return null;
    if (!env.event?.value) return null;
    const body = decodeAny(env.event.type_url, env.event.value);
    if (!body) return null;
    const containerId = String(body.container_id ?? '');
    // exit/delete of an exec'd process carry its exec id; the init process has none or the container id
    const id = String(body.id ?? '');
    if (topic !== '/tasks/start' && id && id !== containerId) return null;
    return { topic, containerId, pid: Number(body.pid ?? 0) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream?.cancel();
    this.containers.close();
    this.tasks.close();
    this.events.close();
  }
}
