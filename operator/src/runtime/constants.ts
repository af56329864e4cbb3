// Names shared by the runtime clients, kept free of gRPC so that importing them
// (e.g. for option defaults) does not load the gRPC stack.
export const DEFAULT_CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
export const K8S_NAMESPACE = 'k8s.io';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
/** The uid of the pod a CRI-made container belongs to (a label the kubelet sets). */
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
/** containerd's CRI plugin: "sandbox" or "container". */
export const LABEL_KIND = 'io.cri-containerd.kind';
