#!/usr/bin/env bash
# Builds hive-test-apiserver (a real kube-apiserver + embedded etcd, see
# README.md) into a cache outside the repository, keyed by the Kubernetes
# version and a hash of go.mod, go.sum and *.go:
#   ${HIVE_CACHE:-$HOME/.cache/hive}/kube-apiserver/<k8s version>-<hash>/hive-test-apiserver
# Skips the build when that binary already exists. Progress goes to stderr;
# the binary's path is the last line on stdout, so `bin=$(test/cluster/build.sh)`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [[ -n "${GO:-}" ]]; then
  go="$GO"
elif command -v go >/dev/null 2>&1; then
  go="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
  go=/usr/local/go/bin/go
else
  echo "build.sh: no Go toolchain found (set GO=/path/to/go)" >&2
  exit 1
fi

version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v[0-9]/ { print $2; exit }' go.mod)"
if [[ -z "$version" ]]; then
  echo "build.sh: cannot find the k8s.io/kubernetes version in go.mod" >&2
  exit 1
fi
major="${version#v}"; major="${major%%.*}"
minor="${version#v*.}"; minor="${minor%%.*}"

hash="$(cat go.mod go.sum $(LC_ALL=C ls *.go) | sha256sum | cut -c1-12)"
outdir="${HIVE_CACHE:-$HOME/.cache/hive}/kube-apiserver/${version}-${hash}"
bin="$outdir/hive-test-apiserver"

if [[ -x "$bin" ]]; then
  echo "build.sh: cached $bin" >&2
  echo "$bin"
  exit 0
fi

mkdir -p "$outdir"
echo "build.sh: building kube-apiserver $version ($("$go" env GOVERSION)); the first build takes about 8-25 min on 2 cores" >&2
start=$(date +%s)
tmp="$outdir/.hive-test-apiserver.$$"
trap 'rm -f "$tmp"' EXIT
# The version variables are what the upstream release build stamps; without
# them /version reports v0.0.0-master.
pkgs="k8s.io/component-base/version k8s.io/client-go/pkg/version"
ldflags="-s -w"
for p in $pkgs; do
  ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
"$go" build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$tmp" .
mv -f "$tmp" "$bin"
trap - EXIT
end=$(date +%s)
echo "build.sh: built in $((end - start)) s, $(du -h "$bin" | cut -f1)" >&2
echo "$bin"
