#!/usr/bin/env bash
# Runs the kubectl built by build.sh (k8s.io/kubectl, the same Kubernetes
# version as hive-test-apiserver) with all arguments, building it first if it
# is not cached yet. Set KUBECONFIG, e.g. from up.sh:
#   eval "$(test/cluster/up.sh | tail -n1)"; test/cluster/kubectl.sh get ns
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$("$here/build.sh" --quiet | tail -n1)"
exec "$(dirname "$bin")/kubectl" "$@"
