#!/usr/bin/env bash
# Creates a kind cluster (one control-plane and one worker node) and a local
# registry container that the nodes pull localhost:5001/... images from. Safe to
# run again: what exists already is kept. Undo with ./delete-cluster.sh.
set -euo pipefail

CLUSTER=${HIVE_CLUSTER:-hive}
REGISTRY=${HIVE_REGISTRY_NAME:-kind-registry}
PORT=${HIVE_REGISTRY_PORT:-5001}
me=$(basename "$0")

usage() {
  cat <<USAGE
usage: $me [-h|--help]
Creates the kind cluster '$CLUSTER' (control-plane + worker) and the registry
container '$REGISTRY' on localhost:$PORT, wired so the nodes pull
localhost:$PORT/<image> from it. Needs docker, kind and kubectl on PATH.
Environment: HIVE_CLUSTER (cluster name), HIVE_REGISTRY_NAME, HIVE_REGISTRY_PORT.
USAGE
}

case ${1:-} in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "$me: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

missing=0
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "$me: '$1' is not on PATH: $2" >&2
    missing=1
  fi
}
need docker "install Docker (Docker Engine or Docker Desktop)"
need kind "install kind (for example: go install sigs.k8s.io/kind@latest)"
need kubectl "install kubectl (a version within one minor of kind's Kubernetes)"
[ "$missing" = 0 ] || exit 3
if ! docker info >/dev/null 2>&1; then
  echo "$me: docker is installed but its daemon does not answer (is it running, and may this user use it?)" >&2
  exit 3
fi

# 1. The registry, published on the host's loopback only.
if [ "$(docker inspect -f '{{.State.Running}}' "$REGISTRY" 2>/dev/null || true)" != "true" ]; then
  docker rm -f "$REGISTRY" >/dev/null 2>&1 || true
  echo "$me: starting registry $REGISTRY on 127.0.0.1:$PORT"
  docker run -d --restart=always -p "127.0.0.1:${PORT}:5000" --name "$REGISTRY" registry:2 >/dev/null
fi

# 2. The cluster; containerd on its nodes reads per-registry hosts from certs.d.
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "$me: creating kind cluster $CLUSTER (control-plane + worker)"
  kind create cluster --name "$CLUSTER" --config=- <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
  - |-
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
nodes:
  - role: control-plane
  - role: worker
KIND
fi

# 3. On every node, localhost:PORT means the registry container (by name, on kind's network).
dir="/etc/containerd/certs.d/localhost:${PORT}"
for node in $(kind get nodes --name "$CLUSTER"); do
  docker exec "$node" mkdir -p "$dir"
  printf '[host."http://%s:5000"]\n' "$REGISTRY" | docker exec -i "$node" cp /dev/stdin "$dir/hosts.toml"
done
if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$REGISTRY")" = "null" ]; then
  docker network connect kind "$REGISTRY"
fi

# 4. Tell tools where the registry is (the local-registry-hosting ConfigMap, KEP-1755).
kubectl --context "kind-$CLUSTER" apply -f - >/dev/null <<CM
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:${PORT}"
CM

cat <<NEXT
$me: cluster kind-$CLUSTER and registry localhost:$PORT are ready.
Next:
  make docker-build     # build the image and push it to localhost:$PORT
  make deploy           # apply config/ with that image and wait for the agents
NEXT
