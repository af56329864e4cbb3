// @kubernetes/client-node is an ES module; this CommonJS project loads it
// once with import(). The kubeconfig comes from KUBECONFIG, else the
// in-cluster service account.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

export type K8s = typeof k8s;
let lib: Promise<K8s> | undefined;

export function k8sLib(): Promise<K8s> {
  lib ??= import('@kubernetes/client-node');
  return lib;
}

export async function loadKubeConfig(): Promise<k8s.KubeConfig> {
  const { KubeConfig } = await k8sLib();
  const kc = new KubeConfig();
  if (process.env.KUBECONFIG) kc.loadFromFile(process.env.KUBECONFIG);
  else kc.loadFromCluster();
  return kc;
}
