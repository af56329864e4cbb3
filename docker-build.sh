#!/usr/bin/env bash
# Builds the hive image (Dockerfile: build stage runs the Makefile's build, the
# runtime stage holds Node.js, the built files and libbpf). With docker (the
# default) it pushes it to the local registry; with podman or buildah it stays
# local (no registry, no push) and can be imported into a containerd. The
# reference to deploy goes to build/image-ref for make deploy.
set -euo pipefail
cd "$(dirname "$0")"

REGISTRY=${HIVE_REGISTRY:-localhost:5001}
BUILDER=docker
TAG=""
PUSH=1
IMPORT_TO=""
REF_FILE=build/image-ref
me=$(basename "$0")

usage() {
  cat <<USAGE
usage: $me [--builder docker|podman|buildah] [--tag TAG] [--registry HOST:PORT] [--no-push]
       [--import-to CONTAINERD_SOCKET] [--ref-file FILE] [-h|--help]
Tag default: the git commit, with -dirty for uncommitted changes.
docker (default): builds \$REGISTRY/hive-agent:\$TAG (registry default localhost:5001,
  env HIVE_REGISTRY) and pushes it (not with --no-push).
podman, buildah: builds localhost/hive-agent:\$TAG with --pull=never and --network host,
  local only: the base images (node:20-bookworm, node:20-bookworm-slim) must be in the
  local store (podman pull them, or make them from Debian packages with
  test/node/base-images.sh). --import-to SOCKET then saves it as an OCI archive and
  imports it with ctr into that containerd's k8s.io namespace (the kubelet's), and
  prints the reference containerd knows it by.
The reference to deploy is written to build/image-ref (make deploy uses it), or to FILE.
USAGE
}

while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --builder) BUILDER=${2:?--builder needs a value}; shift 2 ;;
    --tag) TAG=${2:?--tag needs a value}; shift 2 ;;
    --registry) REGISTRY=${2:?--registry needs a value}; shift 2 ;;
    --no-push) PUSH=0; shift ;;
    --import-to) IMPORT_TO=${2:?--import-to needs a containerd socket}; shift 2 ;;
    --ref-file) REF_FILE=${2:?--ref-file needs a path}; shift 2 ;;
    *) echo "$me: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

case $BUILDER in
  docker | podman | buildah) ;;
  *) echo "$me: unknown builder '$BUILDER' (allowed: docker, podman, buildah)" >&2; exit 2 ;;
esac
if [ "$BUILDER" = docker ] && [ -n "$IMPORT_TO" ]; then
  echo "$me: --import-to goes with --builder podman or buildah (docker pushes to the registry)" >&2
  exit 2
fi
if ! command -v "$BUILDER" >/dev/null 2>&1; then
  case $BUILDER in
    docker) echo "$me: 'docker' is not on PATH: install Docker (Docker Engine or Docker Desktop)" >&2 ;;
    *) echo "$me: '$BUILDER' is not on PATH: install it (Debian package $BUILDER; make deps does)" >&2 ;;
  esac
  exit 3
fi
if [ -n "$IMPORT_TO" ]; then
  command -v ctr >/dev/null 2>&1 || { echo "$me: 'ctr' is not on PATH: --import-to needs containerd's ctr (Debian package containerd)" >&2; exit 3; }
  [ -S "$IMPORT_TO" ] || { echo "$me: --import-to '$IMPORT_TO' is not a unix socket: give containerd's socket (e.g. /run/containerd/containerd.sock)" >&2; exit 2; }
fi
if [ -z "$TAG" ]; then
  TAG=$(git rev-parse --short HEAD 2>/dev/null || echo dev)
  if [ -n "$(git status --porcelain 2>/dev/null)" ]; then TAG="$TAG-dirty"; fi
fi

if [ "$BUILDER" = docker ]; then
  image="$REGISTRY/hive-agent:$TAG"
  docker build -t "$image" -f Dockerfile .
  mkdir -p "$(dirname "$REF_FILE")"
  echo "$image" > "$REF_FILE"
  if [ "$PUSH" = 1 ]; then
    docker push "$image"
    echo "$me: built and pushed $image (make deploy uses it)"
  else
    echo "$me: built $image, not pushed (make deploy uses it)"
  fi
  exit 0
fi

# podman / buildah: the same Dockerfile, its base images from the local store
# only (a short name such as node:20-bookworm resolves to the local
# docker.io/library/node:20-bookworm), the host's network for apt and npm.
image="localhost/hive-agent:$TAG"
while read -r base; do
  if ! "$BUILDER" inspect --type image "$base" >/dev/null 2>&1; then
    echo "$me: base image '$base' is not in $BUILDER's local store: '$BUILDER pull $base' where a registry is reachable, or make a local stand-in with test/node/base-images.sh" >&2
    exit 3
  fi
done < <(sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/Ip' Dockerfile)
old=$("$BUILDER" inspect --type image --format '{{.Id}}' "$image" 2>/dev/null || true)
start=$SECONDS
if [ "$BUILDER" = podman ]; then
  podman build --pull=never --network host -t "$image" -f Dockerfile .
else
  buildah build --pull=never --network host --layers -t "$image" -f Dockerfile .
fi
echo "$me: built $image in $((SECONDS - start)) s" >&2
# the image this tag named before, unless another tag or a container still has it
if [ -n "$old" ] && [ "$old" != "$("$BUILDER" inspect --type image --format '{{.Id}}' "$image")" ]; then
  "$BUILDER" rmi "$old" >/dev/null 2>&1 || true
fi
ref=$image
if [ -n "$IMPORT_TO" ]; then
  archive=$(mktemp /var/tmp/hive-agent-image.XXXXXX.tar)
  trap 'rm -f "$archive"' EXIT
  rm -f "$archive"
  start=$SECONDS
  if [ "$BUILDER" = podman ]; then
    podman save --quiet --format oci-archive -o "$archive" "$image"
  else
    buildah push --quiet "$image" "oci-archive:$archive:$image"
  fi
  saved=$((SECONDS - start)) start=$SECONDS
  # the archive's index names the manifest by the full reference
  # (org.opencontainers.image.ref.name), which containerd takes as the name
  ctr --address "$IMPORT_TO" -n k8s.io images import "$archive" >&2
  ctr --address "$IMPORT_TO" -n k8s.io images ls -q "name==$image" | grep -qx "$image" ||
    { echo "$me: containerd at $IMPORT_TO does not list $image after the import" >&2; exit 1; }
  echo "$me: imported $image into containerd at $IMPORT_TO (namespace k8s.io):" \
    "archive $(($(stat -c %s "$archive") / 1048576)) MiB, saved in $saved s, imported in $((SECONDS - start)) s" >&2
fi
mkdir -p "$(dirname "$REF_FILE")"
echo "$ref" > "$REF_FILE"
echo "$me: $ref is in $REF_FILE (make deploy uses build/image-ref)" >&2
echo "$ref"
