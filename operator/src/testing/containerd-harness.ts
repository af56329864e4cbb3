// A private containerd + runc for the tests: own config, root, state and
// socket; an OCI image built here with no registry (busybox-static and
// fixtures: a symlink that points outside the root, a hard link); pods and
// containers created through CRI, the way the kubelet does, so labels and ids
// are the real ones. stop() tears everything down by pid, even after a failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { CriClient } from '../runtime/cri';
import { busyboxImageArchive } from './oci-image';
import { containerdConfig } from './containerd-config';
import { commandSkip, rootSkip, skipReason, unitOnly } from './require';
import type { PodSandboxConfig } from '../generated/proto/runtime/v1/PodSandboxConfig';

export const IMAGE = 'hive.test/busybox:1';
export const PAUSE_IMAGE = 'hive.test/pause:1';

/** Why the containerd suite cannot run here, or false (see require.ts). */
export function containerdSkip(): string | false {
  return (
    unitOnly() ||
    rootSkip('to run containerd and runc') ||
    commandSkip(['containerd', 'runc', 'ctr', 'tar'], 'make deps installs containerd and runc') ||
    (fs.existsSync('/bin/busybox') ? false : skipReason('needs /bin/busybox (Debian busybox-static)'))
  );
}

export interface PodContainer {
  name: string;
  id: string;
  pid: number;
}

export interface Pod {
  sandboxId: string;
  uid: string;
  name: string;
  namespace: string;
  config: PodSandboxConfig;
  containers: PodContainer[];
}

/** A host directory or file bind-mounted into a container (a hostPath volume). */
export interface HostMount {
  hostPath: string;
  containerPath: string;
  readOnly?: boolean;
}

export class ContainerdHarness {
  readonly cri: CriClient;
  private readonly pods: Pod[] = [];
  private proc: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly socket: string,
  ) {
    // a loaded machine (make test runs lanes at once) can take over 10 s for a runc exec
    this.cri = new CriClient(socket, 30_000);
  }

  static async start(): Promise<ContainerdHarness> {
    // short path: unix socket paths are limited to 108 bytes
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hctrd-'));
    const h = new ContainerdHarness(dir, path.join(dir, 'containerd.sock'));
    try {
      h.writeConfig();
      await h.launch();
      h.importImage();
    } catch (e) {
      await h.stop();
      throw e;
    }
    return h;
  }

  private writeConfig(): void {
    const d = this.dir;
    fs.mkdirSync(path.join(d, 'cni'), { recursive: true });
    fs.writeFileSync(
      path.join(d, 'config.toml'),
      containerdConfig({ root: `${d}/root`, state: `${d}/state`, socket: this.socket, sandboxImage: PAUSE_IMAGE, cniConfDir: `${d}/cni` }),
    );
  }

  /** Starts containerd and waits until CRI answers. */
  async launch(): Promise<void> {
    const logFd = fs.openSync(path.join(this.dir, 'containerd.log'), 'a');
    this.proc = spawn('containerd', ['--config', path.join(this.dir, 'config.toml')], {
      stdio: ['ignore', logFd, logFd],
      detached: false,
    });
    fs.closeSync(logFd);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`containerd exited (${this.proc.exitCode}): ${this.logTail()}`);
      if (fs.existsSync(this.socket)) {
        try {
          await this.cri.version();
          return;
        } catch {
          // not ready yet
        }
      }
      if (Date.now() > deadline) throw new Error(`containerd did not answer within 20 s: ${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get containerdPid(): number | undefined {
    return this.proc?.pid;
  }

  /** Kills containerd (not the shims or containers), as a crash or upgrade would. */
  async killContainerd(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    fs.rmSync(this.socket, { force: true });
  }

  logTail(n = 15): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'containerd.log'), 'utf8').trim().split('\n').slice(-n).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** ctr against this containerd, namespace k8s.io. */
  ctr(...args: string[]): string {
    return execFileSync('ctr', ['-a', this.socket, '-n', 'k8s.io', ...args], { stdio: 'pipe' }).toString();
  }

  /** Builds the image (busybox and the fixtures) and imports it as IMAGE and PAUSE_IMAGE. */
  private importImage(): void {
    const archive = busyboxImageArchive(path.join(this.dir, 'image'), {
      names: [IMAGE, PAUSE_IMAGE],
      applets: ['sh', 'cat', 'sleep', 'ls', 'echo', 'true', 'ln'],
      cmd: ['/bin/sleep', '1000000'],
      fixtures: (rootfs) => {
        fs.writeFileSync(path.join(rootfs, 'etc/secret'), 'container secret\n');
        fs.linkSync(path.join(rootfs, 'etc/secret'), path.join(rootfs, 'etc/secret-hardlink'));
        // Points outside the root when resolved on the host: must resolve inside.
        fs.symlinkSync('/../../../../../../../etc/shadow', path.join(rootfs, 'etc/shadow-escape'));
        fs.symlinkSync('/etc/shadow', path.join(rootfs, 'etc/shadow-abs'));
      },
    });
    this.ctr('images', 'import', archive);
  }

  /** A pod sandbox (host network, so no CNI) with one sleeping container per name (each with `mounts`). */
  async runPod(name: string, containerNames: string[], namespace = 'default', uid: string = crypto.randomUUID(), mounts: HostMount[] = []): Promise<Pod> {
    const config: PodSandboxConfig = {
      metadata: { name, uid, namespace, attempt: 0 },
      log_directory: path.join(this.dir, 'logs', uid),
      // what the kubelet sets on a sandbox
      labels: { app: name, 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.uid': uid },
      linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    fs.mkdirSync(config.log_directory!, { recursive: true });
    const sandboxId = await this.cri.runPodSandbox(config);
    const pod: Pod = { sandboxId, uid, name, namespace, config, containers: [] };
    this.pods.push(pod);
    return this.addContainers(pod, containerNames, mounts);
  }

  private async addContainers(pod: Pod, containerNames: string[], mounts: HostMount[] = []): Promise<Pod> {
    for (const c of containerNames) pod.containers.push(await this.startContainer(pod, c, 0, mounts));
    return pod;
  }

  /** Stops and removes a pod's sandbox and containers (as the kubelet does on delete). */
  async removePod(pod: Pod): Promise<void> {
    await this.cri.stopPodSandbox(pod.sandboxId);
    await this.cri.removePodSandbox(pod.sandboxId);
    const i = this.pods.indexOf(pod);
    if (i >= 0) this.pods.splice(i, 1);
  }

  async startContainer(pod: Pod, name: string, attempt = 0, mounts: HostMount[] = []): Promise<PodContainer> {
    const id = await this.cri.createContainer(
      pod.sandboxId,
      {
        metadata: { name, attempt },
        image: { image: IMAGE },
        command: ['/bin/sleep', '1000000'],
        log_path: `${name}-${attempt}.log`,
        // a hostPath volume, as the kubelet hands it to the runtime
        mounts: mounts.map((m) => ({ host_path: m.hostPath, container_path: m.containerPath, readonly: m.readOnly ?? false })),
        // what the kubelet sets on a container
        labels: {
          'io.kubernetes.container.name': name,
          'io.kubernetes.pod.name': pod.name,
          'io.kubernetes.pod.namespace': pod.namespace,
          'io.kubernetes.pod.uid': pod.uid,
        },
      },
      pod.config,
    );
    await this.cri.startContainer(id);
    const pid = await this.cri.containerPid(id);
    if (!pid) throw new Error(`container ${name} (${id}) has no pid after start`);
    return { name, id, pid };
  }

  /** Stops containers and sandboxes, kills containerd and any shim it left, unmounts, removes the dir. */
  async stop(): Promise<void> {
    for (const pod of this.pods.splice(0)) {
      try {
        await this.cri.stopPodSandbox(pod.sandboxId);
        await this.cri.removePodSandbox(pod.sandboxId);
      } catch {
        // containerd may be gone already: the pid sweep below cleans up
      }
    }
    this.cri.close();
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc!.once('exit', r));
      this.proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    // shims (and their containers) started for this socket, by pid
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes('containerd-shim') && cmd.includes(this.socket)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, 200));
    const mounts = fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m && (m.startsWith(this.dir) || m.includes(path.basename(this.dir))))
      .reverse();
    for (const m of mounts) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
