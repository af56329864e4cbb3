// Names shared by the runtime clients, kept free of gRPC so that importing them
// (e.g. for option defaults) does not load the gRPC stack.
export const DEFAULT_CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
export const K8S_NAMESPACE = 'k8s.io';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
