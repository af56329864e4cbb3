// The CRI runtime service (runtime.v1) over a runtime's socket: how the agent
// finds a container's pid on runtimes other than containerd (CRI-O), and how
// the tests create pods the way the kubelet does.
import * as grpc from '@grpc/grpc-js';
import { HiveError } from '../util/errors';
import { criProto } from './protos';
import { unaryCall } from './grpc-call';
import type { RuntimeServiceClient } from '../generated/proto/runtime/v1/RuntimeService';
import type { PodSandboxConfig } from '../generated/proto/runtime/v1/PodSandboxConfig';
import type { ContainerConfig } from '../generated/proto/runtime/v1/ContainerConfig';
import type { RunPodSandboxResponse__Output } from '../generated/proto/runtime/v1/RunPodSandboxResponse';
import type { CreateContainerResponse__Output } from '../generated/proto/runtime/v1/CreateContainerResponse';
import type { ListContainersResponse__Output } from '../generated/proto/runtime/v1/ListContainersResponse';
import type { ContainerStatusResponse__Output } from '../generated/proto/runtime/v1/ContainerStatusResponse';
import type { ExecSyncResponse__Output } from '../generated/proto/runtime/v1/ExecSyncResponse';
import type { VersionResponse__Output } from '../generated/proto/runtime/v1/VersionResponse';
import type { Container__Output } from '../generated/proto/runtime/v1/Container';

export class CriClient {
  private readonly rt: RuntimeServiceClient;

  constructor(
    readonly socket: string,
    readonly timeoutMs = 10_000,
  ) {
    const p = criProto();
    this.rt = new p.runtime.v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());
  }

  private call<Res>(op: string, fn: (md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<Res>) => unknown): Promise<Res> {
    return unaryCall('CRI runtime', this.socket, op, new grpc.Metadata(), this.timeoutMs, fn);
  }

  version(): Promise<VersionResponse__Output> {
    return this.call('version', (md, o, cb) => this.rt.Version({ version: 'v1' }, md, o, cb));
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    const r = await this.call<RunPodSandboxResponse__Output>('run pod sandbox', (md, o, cb) =>
      this.rt.RunPodSandbox({ config }, md, o, cb),
    );
    return r.pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call('stop pod sandbox', (md, o, cb) => this.rt.StopPodSandbox({ pod_sandbox_id: id }, md, o, cb));
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call('remove pod sandbox', (md, o, cb) => this.rt.RemovePodSandbox({ pod_sandbox_id: id }, md, o, cb));
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const r = await this.call<CreateContainerResponse__Output>('create container', (md, o, cb) =>
      this.rt.CreateContainer({ pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig }, md, o, cb),
    );
    return r.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('start container', (md, o, cb) => this.rt.StartContainer({ container_id: id }, md, o, cb));
  }

  async stopContainer(id: string, timeoutS = 0): Promise<void> {
    await this.call('stop container', (md, o, cb) => this.rt.StopContainer({ container_id: id, timeout: timeoutS }, md, o, cb));
  }

  async removeContainer(id: string): Promise<void> {
    await this.call('remove container', (md, o, cb) => this.rt.RemoveContainer({ container_id: id }, md, o, cb));
  }

  async listContainers(labelSelector: Record<string, string> = {}): Promise<Container__Output[]> {
    const r = await this.call<ListContainersResponse__Output>('list containers', (md, o, cb) =>
      this.rt.ListContainers({ filter: { label_selector: labelSelector } }, md, o, cb),
    );
    return r.containers;
  }

  /** The container's name and, while it runs, its init pid (ContainerStatus verbose: info.info is JSON). */
  /** startedAtMs: when the runtime started it (ms since the epoch; CRI gives ns), null before. */
  async containerStatus(id: string): Promise<{ name: string; pid: number | null; startedAtMs: number | null }> {
    const r = await this.call<ContainerStatusResponse__Output>('container status ' + id, (md, o, cb) =>
      this.rt.ContainerStatus({ container_id: id, verbose: true }, md, o, cb),
    );
    const name = r.status?.metadata?.name ?? id;
    const startedAtMs = r.status?.started_at ? r.status.started_at / 1e6 : null;
    const info = r.info?.info;
    if (!info || r.status?.state !== 'CONTAINER_RUNNING') return { name, pid: null, startedAtMs };
    try {
      const pid = Number((JSON.parse(info) as { pid?: number }).pid);
      return { name, pid: pid > 0 ? pid : null, startedAtMs };
    } catch {
      throw new HiveError(`CRI container status ${id}: info is not JSON`);
    }
  }

  /** The exit code once the container has exited; null before. */
  async containerExitCode(id: string): Promise<number | null> {
    const r = await this.call<ContainerStatusResponse__Output>('container status ' + id, (md, o, cb) =>
      this.rt.ContainerStatus({ container_id: id, verbose: false }, md, o, cb),
    );
    return r.status?.state === 'CONTAINER_EXITED' ? r.status.exit_code : null;
  }

  async containerPid(id: string): Promise<number | null> {
    return (await this.containerStatus(id)).pid;
  }

  async execSync(id: string, cmd: string[], timeoutS = 10): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await this.call<ExecSyncResponse__Output>('exec', (md, o, cb) =>
      this.rt.ExecSync({ container_id: id, cmd, timeout: timeoutS }, md, o, cb),
    );
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exit_code };
  }

  close(): void {
    this.rt.close();
  }
}
