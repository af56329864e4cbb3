#!/usr/bin/env bash
# Local stand-ins for the Dockerfile's two base images, so that
# `podman build --pull=never` builds the Dockerfile itself on a machine with no
# container registry:
#   docker.io/library/node:20-bookworm       (the build stage)
#   docker.io/library/node:20-bookworm-slim  (the runtime stage)
# podman resolves the Dockerfile's short names (node:20-bookworm) to these
# fully qualified local tags without any registries.conf alias.
#
# Each is Debian bookworm made with mmdebstrap from this host's own apt sources
# (its bookworm entries signed by the Debian archive keyring, read at run time)
# plus this host's Node.js 20 laid out as the official image has it: node in
# /usr/local/bin, npm and corepack in /usr/local/lib/node_modules, the headers
# in /usr/local/include/node (`make build` derives nodedir from
# process.execPath: /usr/local). The slim one is minbase + Node.js, like
# debian:bookworm-slim with node; the full one (buildpack-deps based upstream)
# adds only a subset of what buildpack-deps has: make (the build stage's
# first command), ca-certificates, curl, wget, gnupg, netbase, git,
# openssh-client, procps, xz-utils. The compilers, -dev libraries and python3
# come from `make deps-build` inside the build, as they would on top of the
# real image (where they are already present). Being a subset, a build that
# passes here does not rely on anything the real image lacks.
#
# Carried from the host so RUN apt-get / npm ci work inside a build with
# --network host: the apt sources and the Acquire options that reach them
# (e.g. Check-Valid-Until for a snapshot mirror, a proxy), the CA bundle and
# local CAs (this machine's egress needs its own CA), npm's global npmrc.
#
# Cached: an image whose label hive.base-image.key matches the hash of this
# script, the host's Node.js version and what was carried is not rebuilt.
# Downloaded .deb files are kept in ~/.cache/hive/base-images/apt.
#
# usage: base-images.sh [--force]     (root; needs podman and mmdebstrap)
set -euo pipefail

me=$(basename "$0")
FULL=docker.io/library/node:20-bookworm
SLIM=docker.io/library/node:20-bookworm-slim
SUITE=bookworm
LABEL=hive.base-image.key
FULL_PKGS=ca-certificates,curl,wget,gnupg,netbase,git,openssh-client,procps,make,xz-utils
CACHE=${HIVE_CACHE_DIR:-$HOME/.cache/hive}/base-images
FORCE=0

die() { echo "$me: $*" >&2; exit 1; }

case ${1:-} in
  '') ;;
  --force) FORCE=1 ;;
  -h | --help) sed -n '2,/^# usage/s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "$me: unknown argument '$1' (allowed: --force, --help)" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap builds the root filesystems as root; podman's store is root's)"
for bin in podman mmdebstrap node apt-config; do
  command -v "$bin" >/dev/null || die "'$bin' is not on PATH (make deps installs podman and mmdebstrap)"
done

# The host's Node.js: the Dockerfile's images are Node.js 20.
node_exec=$(node -p 'process.execPath')
node_version=$(node -p 'process.version')
case $node_version in v20.*) ;; *) die "host Node.js is $node_version at $node_exec: the Dockerfile's base images are Node.js 20" ;; esac
node_prefix=$(dirname "$(dirname "$node_exec")")
npm_dir=$node_prefix/lib/node_modules/npm
[ -f "$npm_dir/bin/npm-cli.js" ] || die "npm not found at $npm_dir (expected next to $node_exec)"
[ -f "$node_prefix/include/node/node.h" ] || die "Node.js headers not found at $node_prefix/include/node"
npmrc=$(npm config get globalconfig 2>/dev/null || true)

work=$(mktemp -d /var/tmp/hive-base-images.XXXXXX)
# --one-file-system: never into a mount a failed run may have left behind
trap 'rm -rf --one-file-system "$work"' EXIT

# The host's bookworm apt entries as one-line sources: from sources.list and
# sources.list.d/*.list (one-line) and *.sources (deb822), enabled, of type
# deb, a bookworm suite, signed by the Debian archive keyring or unsigned
# (a third-party repository's keyring is not in the new root).
host_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      /^[ \t]*deb[ \t]/ {
        line = $0; opts = ""
        if (match(line, /\[[^]]*\]/)) { opts = substr(line, RSTART + 1, RLENGTH - 2); line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH) }
        n = split(line, w, /[ \t]+/)
        if (w[3] !~ ("^" suite "(-|$)")) next
        if (opts ~ /signed-by=/ && opts !~ /signed-by=\/usr\/share\/keyrings\/debian-archive-/) next
        print
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        delete k
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^[ \t]*#/ || $i !~ /:/) continue
          key = tolower(substr($i, 1, index($i, ":") - 1)); val = substr($i, index($i, ":") + 1)
          gsub(/^[ \t]+|[ \t]+$/, "", val); k[key] = val
        }
        if (k["enabled"] == "no" || k["types"] !~ /(^| )deb( |$)/) next
        if (k["signed-by"] != "" && k["signed-by"] !~ /^\/usr\/share\/keyrings\/debian-archive-/) next
        signed = k["signed-by"] == "" ? "" : "[signed-by=" k["signed-by"] "] "
        nu = split(k["uris"], u, /[ \t]+/); ns = split(k["suites"], s, /[ \t]+/)
        for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++)
          if (s[b] ~ ("^" suite "(-|$)")) print "deb " signed u[a] " " s[b] " " k["components"]
      }' "$f"
  done
}
host_sources > "$work/sources.list"
[ -s "$work/sources.list" ] || die "no enabled Debian $SUITE entry in /etc/apt/sources.list or /etc/apt/sources.list.d/: the base images need a Debian 12 mirror"

# The Acquire options this host's apt needs to reach those sources.
apt-config dump --format '%f "%v";%n' Acquire::Check-Valid-Until Acquire::Check-Date \
  Acquire::http::Proxy Acquire::https::Proxy Acquire::Retries > "$work/apt.conf"

ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || die "$ca_bundle missing: the images carry the host's CA bundle"

key=$({
  cat "$0" "$work/sources.list" "$work/apt.conf" "$ca_bundle"
  echo "$node_version"
  [ -f "$npmrc" ] && cat "$npmrc"
  true
} | sha256sum | cut -c1-16)

current_key() {
  podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null || true
}

# Node.js, npm and the host's carried configuration into root filesystem $1.
add_node() {
  local root=$1
  install -d "$root/usr/local/bin" "$root/usr/local/lib/node_modules" "$root/usr/local/include" "$root/usr/local/etc"
  install -m 0755 "$node_exec" "$root/usr/local/bin/node"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  if [ -d "$node_prefix/lib/node_modules/corepack" ]; then
    cp -a "$node_prefix/lib/node_modules/corepack" "$root/usr/local/lib/node_modules/corepack"
    ln -s ../lib/node_modules/corepack/dist/corepack.js "$root/usr/local/bin/corepack"
  fi
  cp -a "$node_prefix/include/node" "$root/usr/local/include/node"
  # the official image's user
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # npm's global config lives in <prefix>/etc/npmrc: /usr/local/etc/npmrc here
  if [ -f "$npmrc" ]; then cp "$npmrc" "$root/usr/local/etc/npmrc"; fi
  # the host's CAs: as the bundle (what apt, npm and curl read), and as local
  # CAs, so an update-ca-certificates inside a build keeps them
  install -d "$root/etc/ssl/certs" "$root/usr/local/share/ca-certificates"
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  fi
  cp "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
  chroot "$root" /usr/local/bin/node -e 'process.exit(0)' || die "node does not run inside the new root"
}

# build NAME VARIANT INCLUDES [mmdebstrap options...]
build() {
  local name=$1 variant=$2 include=$3; shift 3
  local root="$work/root" start=$SECONDS old
  old=$(podman image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
  rm -rf --one-file-system "$root"
  mkdir -p "$CACHE/apt"
  echo "$me: building $name (mmdebstrap $SUITE --variant=$variant${include:+ --include=$include})" >&2
  # shellcheck disable=SC2016 # "$1" in the hook is mmdebstrap's, expanded by it
  mmdebstrap --quiet --variant="$variant" ${include:+--include="$include"} \
    --aptopt="$work/apt.conf" "$@" \
    --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $CACHE/apt /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $CACHE/apt" \
    "$SUITE" "$root" - < "$work/sources.list" >&2
  add_node "$root"
  # as in the official images: an empty /dev (the runtime provides it)
  tar -C "$root" --numeric-owner --xattrs --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - . |
    podman import --quiet \
      --change "ENV NODE_VERSION=${node_version#v}" \
      --change 'CMD ["node"]' \
      --change "LABEL $LABEL=$key" \
      --change "LABEL hive.base-image.node=$node_version" \
      - "$name" >/dev/null
  rm -rf --one-file-system "$root"
  # the image this one replaces, unless something (a built image) still uses it
  if [ -n "$old" ] && [ "$old" != "$(podman image inspect --format '{{.Id}}' "$name")" ]; then
    podman rmi "$old" >/dev/null 2>&1 || true
  fi
  echo "$me: $name built in $((SECONDS - start)) s" >&2
}

# Slim: no documentation, manual pages or locales, as debian:bookworm-slim
# (the path filters stay in the image, so later installs follow them too).
slim_opts=(
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/info/*'
)

for spec in "$FULL|$FULL_PKGS" "$SLIM|"; do
  name=${spec%%|*} include=${spec#*|}
  if [ "$FORCE" = 0 ] && [ "$(current_key "$name")" = "$key" ]; then
    echo "$me: $name is up to date ($LABEL=$key)" >&2
    continue
  fi
  if [ "$name" = "$SLIM" ]; then build "$name" minbase "$include" "${slim_opts[@]}"
  else build "$name" minbase "$include"; fi
done
echo "$me: ready: $FULL $SLIM (Node.js $node_version)"
