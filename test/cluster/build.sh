#!/usr/bin/env bash
# Builds hive-test-apiserver (a real kube-apiserver + embedded etcd, see
# README.md) and kubectl (k8s.io/kubectl, ./cmd/kubectl) into a cache outside
# the repository, keyed by the Kubernetes version and a hash of go.mod, go.sum,
# *.go and cmd/kubectl/*.go:
#   ${HIVE_CACHE:-$HOME/.cache/hive}/kube-apiserver/<k8s version>-<hash>/hive-test-apiserver
#   ${HIVE_CACHE:-$HOME/.cache/hive}/kube-apiserver/<k8s version>-<hash>/kubectl
# Skips each build when that binary already exists. Progress and the kubectl
# path go to stderr (with --quiet, nothing when both are cached); the path of
# hive-test-apiserver is the last line on stdout, so
# `bin=$(test/cluster/build.sh)`; kubectl is "$(dirname "$bin")/kubectl".
# With --node, also the node's components next to them (test/node):
# kubelet, kube-controller-manager and kube-scheduler, the upstream commands
# of k8s.io/kubernetes built in one `go build` so shared packages compile once.
set -euo pipefail

quiet=false
node=false
for arg in "$@"; do
  case "$arg" in
    -q|--quiet) quiet=true ;;
    --node) node=true ;;
    *) echo "usage: build.sh [--quiet] [--node]" >&2; exit 2 ;;
  esac
done

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

# The sources in C order (the cache key depends on it).
mapfile -t srcs < <(find . -maxdepth 1 -name '*.go' | sed 's|^\./||' | LC_ALL=C sort; find cmd/kubectl -maxdepth 1 -name '*.go' | LC_ALL=C sort)
hash="$(cat go.mod go.sum "${srcs[@]}" | sha256sum | cut -c1-12)"
outdir="${HIVE_CACHE:-$HOME/.cache/hive}/kube-apiserver/${version}-${hash}"
bin="$outdir/hive-test-apiserver"
kubectl="$outdir/kubectl"

# The version variables are what the upstream release build stamps; without
# them /version and `kubectl version` report v0.0.0-master.
pkgs="k8s.io/component-base/version k8s.io/client-go/pkg/version"
ldflags="-s -w"
for p in $pkgs; do
  ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

node_cmds=(kubelet kube-controller-manager kube-scheduler)
wanted=("$bin" "$kubectl")
if $node; then for c in "${node_cmds[@]}"; do wanted+=("$outdir/$c"); done; fi
missing_any=false
for f in "${wanted[@]}"; do [[ -x "$f" ]] || missing_any=true; done

# One build at a time per cache: make test starts this early in the
# background, and the suites that need the binaries call it again; a caller
# that lacks one waits here and then finds it cached. One that has them all
# takes no lock (the node's components may still be building).
if $missing_any; then
  mkdir -p "${HIVE_CACHE:-$HOME/.cache/hive}/kube-apiserver"
  exec 9>"${HIVE_CACHE:-$HOME/.cache/hive}/kube-apiserver/.build.lock"
  if ! flock -n 9; then
    $quiet || echo "build.sh: another build.sh is building; waiting for it" >&2
    flock 9
  fi
fi

tmps=()
trap 'rm -rf ${tmps[@]+"${tmps[@]}"}' EXIT

# build OUT PACKAGE WHAT NOTE: go build PACKAGE into OUT unless OUT exists.
build() {
  local out="$1" pkg="$2" what="$3" note="$4" tmp start end
  if [[ -x "$out" ]]; then
    $quiet || echo "build.sh: cached $out" >&2
    return 0
  fi
  mkdir -p "$outdir"
  echo "build.sh: building $what $version ($("$go" env GOVERSION)); $note" >&2
  start=$(date +%s)
  tmp="$outdir/.$(basename "$out").$$"
  tmps+=("$tmp")
  "$go" build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg"
  mv -f "$tmp" "$out"
  end=$(date +%s)
  echo "build.sh: built $out in $((end - start)) s, $(du -h "$out" | cut -f1)" >&2
}

build "$bin" . kube-apiserver "the first build takes about 8-25 min on 2 cores"
build "$kubectl" ./cmd/kubectl kubectl "the first build takes about 2-5 min on 2 cores"

if $node; then
  missing=()
  for c in "${node_cmds[@]}"; do [[ -x "$outdir/$c" ]] || missing+=("$c"); done
  if (( ${#missing[@]} == 0 )); then
    $quiet || echo "build.sh: cached ${node_cmds[*]} in $outdir" >&2
  else
    echo "build.sh: building ${missing[*]} $version; about 3 min on 2 cores after the API server's build, 10-20 min cold" >&2
    start=$(date +%s)
    tmpdir="$outdir/.node.$$"
    tmps+=("$tmpdir")
    mkdir -p "$tmpdir"
    pkgs=()
    for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    "$go" build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$tmpdir/" "${pkgs[@]}"
    for c in "${missing[@]}"; do mv -f "$tmpdir/$c" "$outdir/$c"; done
    rm -rf "$tmpdir"
    echo "build.sh: built ${missing[*]} in $(( $(date +%s) - start )) s" >&2
  fi
fi
$quiet || echo "build.sh: kubectl is $kubectl" >&2
echo "$bin"
