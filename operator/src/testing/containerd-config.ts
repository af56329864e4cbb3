// The containerd configuration of the tests' containerd instances (the
// harness's private one and the real node's): own root, state and socket; the
// CRI plugin with a locally imported sandbox image, runc on overlayfs, and
// Debian's CNI plugins.

/** Where Debian's containernetworking-plugins installs the plugins. */
export const CNI_BIN = '/usr/lib/cni';
export interface ContainerdConfig {
  root: string;
  state: string;
  socket: string;
  sandboxImage: string;
  cniConfDir: string;
  /** A CNI config template containerd fills in with the podCIDR the kubelet passes it. */
  cniTemplate?: string;
}

export function containerdConfig(c: ContainerdConfig): string {
  return `version = 2
root = "${c.root}"
state = "${c.state}"
[grpc]
  address = "${c.socket}"
[ttrpc]
  address = "${c.socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${c.sandboxImage}"
  # root here lacks CAP_SYS_RESOURCE (a VM's container): containerd must not raise oom_score_adj
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN}"
    conf_dir = "${c.cniConfDir}"
${c.cniTemplate ? `    conf_template = "${c.cniTemplate}"\n` : ''}`;
}
