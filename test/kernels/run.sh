#!/bin/bash
# The qemu kernel matrix: boots Debian kernels under software emulation (TCG)
# with this machine's root shared read-only over 9p, runs the project's own
# kernel-side tests inside in every attach mode, and fails (showing the guest's
# output) when anything inside failed or the guest hung.
#
# usage: run.sh [KERNEL...]      (default: $KERNELS, else "6.1 6.12")
#   KERNEL is a Debian package (linux-image-6.1.0-56-amd64-unsigned) or an
#   alias: 6.1 / 6.12 = the newest generic amd64 unsigned image of that series.
# env: HIVE_CACHE (default ~/.cache/hive) keeps unpacked kernels and initramfs
#      per package version; HIVE_KERNEL_TIMEOUT (s, default 240) bounds a guest;
#      HIVE_TEST_MODES, HIVE_EXPECT_MODES, HIVE_EXPECT_AUTO override what runs
#      and what the guest must find; HIVE_BPF_DIR runs another build of the BPF
#      objects (the selfcheck uses it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${HIVE_CACHE:-$HOME/.cache/hive}/kernels
timeout_s=${HIVE_KERNEL_TIMEOUT:-240}
modes=${HIVE_TEST_MODES:-kprobe,fentry,lsm,tracepoint}
expect=${HIVE_EXPECT_MODES:-kprobe,fentry,lsm,tracepoint}
auto=${HIVE_EXPECT_AUTO:-fentry}
read -r -a kernels <<< "${*:-${KERNELS:-6.1 6.12}}"
mkdir -p "$cache"

log() { echo "test-kernels: $*" >&2; }
die() { log "$*"; exit 1; }

for tool in qemu-system-x86_64 /bin/busybox cpio xz dpkg-deb apt-get; do
  command -v "$tool" >/dev/null || die "$tool missing: run 'make deps'"
done

# Alias -> the newest matching package apt knows.
resolve_pkg() {
  local k=$1 pattern
  case $k in
    6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
    6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
    linux-image-*) echo "$k"; return ;;
    *) die "unknown kernel '$k': give a Debian linux-image-*-unsigned package, or 6.1 / 6.12" ;;
  esac
  local pkg
  pkg=$(apt-cache pkgnames linux-image- | grep -E "$pattern" | sort -V | tail -1)
  if [ -z "$pkg" ]; then
    apt-get update -qq >&2
    pkg=$(apt-cache pkgnames linux-image- | grep -E "$pattern" | sort -V | tail -1)
  fi
  [ -n "$pkg" ] || die "no package matches $pattern in apt's lists"
  echo "$pkg"
}

# Downloads and unpacks a kernel package once per version; prints its dir.
fetch_kernel() {
  local pkg=$1 ver dir tmp
  ver=$(apt-cache policy "$pkg" | sed -n 's/ *Candidate: //p')
  if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then die "apt has no candidate for $pkg"; fi
  dir=$cache/${pkg}_${ver}
  if [ ! -f "$dir/.unpacked" ]; then
    log "fetching $pkg $ver"
    tmp=$(mktemp -d); chmod 755 "$tmp"
    (cd "$tmp" && apt-get download -q "$pkg=$ver" >&2) || die "apt-get download $pkg=$ver failed"
    rm -rf "$dir"; mkdir -p "$dir"
    dpkg-deb -x "$tmp"/*.deb "$dir/root"
    rm -rf "$tmp"
    touch "$dir/.unpacked"
  fi
  echo "$dir"
}

# A small initramfs: busybox, /init, the 9p modules of this kernel, and what
# the network monitor's tests need (veth, the clsact qdisc, the bpf classifier).
build_initrd() {
  local dir=$1 kver=$2 stage m f
  [ -f "$dir/initrd.gz" ] && [ "$dir/initrd.gz" -nt "$repo/test/kernels/init" ] && [ "$dir/initrd.gz" -nt "$repo/test/kernels/run.sh" ] && return
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,proc,sys,dev,modules}
  cp /bin/busybox "$stage/bin/busybox"
  cp "$repo/test/kernels/init" "$stage/init"
  : > "$stage/modules.order"
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p \
           veth sch_ingress cls_bpf; do
    f=$(find "$dir/root/lib/modules/$kver" -name "$m.ko" -o -name "$m.ko.xz" | head -1)
    [ -n "$f" ] || continue # built in, or not a module in this kernel
    case $f in
      *.xz) xz -dc "$f" > "$stage/modules/$m.ko" ;;
      *) cp "$f" "$stage/modules/$m.ko" ;;
    esac
    echo "$m.ko" >> "$stage/modules.order"
  done
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$dir/initrd.gz.tmp"
  mv "$dir/initrd.gz.tmp" "$dir/initrd.gz"
  rm -rf "$stage"
}

show() { # file, lines
  [ -f "$1" ] && { echo "----- $(basename "$1") (last $2 lines)"; tail -n "$2" "$1"; }
  return 0
}

failed=()
summary=()
for k in "${kernels[@]}"; do
  pkg=$(resolve_pkg "$k")
  dir=$(fetch_kernel "$pkg")
  vmlinuz=$(find "$dir/root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | head -1)
  kver=${vmlinuz##*/vmlinuz-}
  build_initrd "$dir" "$kver"
  results=$(mktemp -d /tmp/hive-kernel-XXXXXX)
  chmod 777 "$results"
  [ -n "${HIVE_BPF_DIR:-}" ] && echo "export HIVE_BPF_DIR=$HIVE_BPF_DIR" > "$results/env"
  log "booting $kver ($pkg) under qemu TCG: modes $modes"
  start=$(date +%s)
  set +e
  timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp 2 -m 1024 \
    -nographic -no-reboot -monitor none -serial stdio -nic none \
    -kernel "$vmlinuz" -initrd "$dir/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3 hive.repo=$repo hive.modes=$modes hive.expect=$expect hive.auto=$auto" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$results,mount_tag=results,security_model=none" \
    < /dev/null > "$results/console.log" 2>&1
  qrc=$?
  secs=$(( $(date +%s) - start ))
  rc=$(cat "$results/exit-code" 2>/dev/null || echo none)
  pass=$(cat "$results"/*.tap 2>/dev/null | grep -E '^# pass' | awk '{s+=$3} END {print s+0}')
  fail=$(cat "$results"/*.tap 2>/dev/null | grep -E '^# fail' | awk '{s+=$3} END {print s+0}')
  auto_mode=$(sed -n 's/.*"auto": "\([a-z]*\)".*/\1/p' "$results/probe.json" 2>/dev/null)
  set -e
  if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    why="guest hung: killed after ${timeout_s}s"
  elif [ "$rc" != 0 ]; then
    why="guest suite exit code $rc"
  else
    why=""
  fi
  if [ -n "$why" ]; then
    log "FAIL $kver: $why ($pass passed, $fail failed, ${secs}s)"
    show "$results/console.log" 40
    for t in "$results"/*.tap; do
      [ -f "$t" ] && { echo "----- failures in $(basename "$t")"; grep -B2 -A25 '^\s*not ok' "$t" | head -120 || true; }
    done
    failed+=("$kver")
  else
    log "ok $kver: $pass passed, 0 failed, auto picks ${auto_mode:-?} (${secs}s)"
    [ -n "${HIVE_KEEP_RESULTS:-}" ] || rm -rf "$results"
  fi
  summary+=("$kver: ${why:-ok} ($pass passed, $fail failed, auto=${auto_mode:-?}, ${secs}s)")
done

printf 'test-kernels: %s\n' "${summary[@]}" >&2
[ ${#failed[@]} -eq 0 ] || die "failed on: ${failed[*]}"
