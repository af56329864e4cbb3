#!/usr/bin/env bash
# Builds the hive image (Dockerfile: build stage runs the Makefile's build, the
# runtime stage holds Node.js, the built files and libbpf) and pushes it to the
# local registry. The pushed reference goes to build/image-ref for make deploy.
set -euo pipefail
cd "$(dirname "$0")"

REGISTRY=${HIVE_REGISTRY:-localhost:5001}
TAG=""
PUSH=1
me=$(basename "$0")

usage() {
  cat <<USAGE
usage: $me [--tag TAG] [--registry HOST:PORT] [--no-push] [-h|--help]
Builds \$REGISTRY/hive-agent:\$TAG (registry default localhost:5001, env HIVE_REGISTRY;
tag default: the git commit, with -dirty for uncommitted changes) and pushes it.
USAGE
}

while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --tag) TAG=${2:?--tag needs a value}; shift 2 ;;
    --registry) REGISTRY=${2:?--registry needs a value}; shift 2 ;;
    --no-push) PUSH=0; shift ;;
    *) echo "$me: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

if ! command -v docker >/dev/null 2>&1; then
  echo "$me: 'docker' is not on PATH: install Docker (Docker Engine or Docker Desktop)" >&2
  exit 3
fi
if [ -z "$TAG" ]; then
  TAG=$(git rev-parse --short HEAD 2>/dev/null || echo dev)
  if [ -n "$(git status --porcelain 2>/dev/null)" ]; then TAG="$TAG-dirty"; fi
fi
image="$REGISTRY/hive-agent:$TAG"

docker build -t "$image" -f Dockerfile .
mkdir -p build
echo "$image" > build/image-ref
if [ "$PUSH" = 1 ]; then
  docker push "$image"
  echo "$me: built and pushed $image (make deploy uses it)"
else
  echo "$me: built $image, not pushed (make deploy uses it)"
fi
