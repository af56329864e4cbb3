// @kubernetes/client-node is an ES module; this CommonJS project loads it
// once with import(). The kubeconfig comes from KUBECONFIG, else the
// in-cluster service account.
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };

import { HiveError, errorMessage } from '../util/errors';

/**
 * The names hive uses from the library, and only those: the shipped bundle
 * (operator/bundle.mjs) imports exactly these, so that esbuild leaves out the
 * rest of it (every generated API and model, ~45 MiB of an idle agent's RSS,
 * BENCHMARKS.md). A name missing here is a type error at its use.
 */
export const K8S_NAMES = ['KubeConfig', 'CoreV1Api', 'CustomObjectsApi', 'makeInformer', 'setHeaderOptions', 'PatchStrategy', 'Log'] as const;
export type K8s = Pick<typeof k8s, (typeof K8S_NAMES)[number]>;
let lib: Promise<K8s> | undefined;

export function k8sLib(): Promise<K8s> {
  lib ??= import('@kubernetes/client-node');
  return lib;
}

/** The agent: KUBECONFIG or in-cluster. userDefault (for commands a user runs): also ~/.kube/config. */
export async function loadKubeConfig(o: { userDefault?: boolean } = {}): Promise<k8s.KubeConfig> {
  const { KubeConfig } = await k8sLib();
  const kc = new KubeConfig();
  try {
    if (process.env.KUBECONFIG) kc.loadFromFile(process.env.KUBECONFIG);
    else if (o.userDefault) kc.loadFromDefault();
    else kc.loadFromCluster();
  } catch (e) {
    throw new HiveError(`cannot load the kubeconfig (${process.env.KUBECONFIG ?? 'in-cluster'}): ${errorMessage(e)}`);
  }
  if (!kc.getCurrentCluster()) {
    throw new HiveError('no Kubernetes API server configured: set KUBECONFIG, or run in a pod with a service account');
  }
  return kc;
}
