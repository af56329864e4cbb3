#!/usr/bin/env bash
# Removes what registry-cluster.sh created: the kind cluster and the registry container.
set -euo pipefail

CLUSTER=${HIVE_CLUSTER:-hive}
REGISTRY=${HIVE_REGISTRY_NAME:-kind-registry}
me=$(basename "$0")

case ${1:-} in
  -h | --help)
    echo "usage: $me [-h|--help]"
    echo "Deletes the kind cluster '$CLUSTER' and the registry container '$REGISTRY' (env HIVE_CLUSTER, HIVE_REGISTRY_NAME)."
    exit 0
    ;;
  "") ;;
  *) echo "$me: unknown argument '$1'" >&2; exit 2 ;;
esac

missing=0
for tool in docker kind; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$me: '$tool' is not on PATH" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 3

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "$me: no kind cluster $CLUSTER"
fi
if docker inspect "$REGISTRY" >/dev/null 2>&1; then
  docker rm -f "$REGISTRY" >/dev/null
  echo "$me: removed registry $REGISTRY"
else
  echo "$me: no registry container $REGISTRY"
fi
