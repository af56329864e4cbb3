#!/bin/bash
# The qemu kernel matrix: boots Debian kernels under software emulation (TCG)
# with this machine's root shared read-only over 9p, runs the project's own
# kernel-side tests inside in every attach mode, and fails (showing the guest's
# output) when anything inside failed or the guest hung.
#
# usage: run.sh [--fetch] [KERNEL...]  (default: $KERNELS, else "5.10 6.1 6.12")
#   --fetch: only download, unpack and make the initramfs of each kernel (what
#   make test does early, while other things build), boot nothing.
#   KERNEL is a Debian package (linux-image-6.1.0-56-amd64-unsigned) or an
#   alias: 5.10 / 6.1 / 6.12 = the newest generic amd64 unsigned image of that
#   series (5.10 is Debian 11's, fetched from bullseye through a private apt
#   configuration; the system's sources are not touched).
# What runs depends on the kernel version, and the run says what it leaves out:
#   < 5.11  no tracepoint mode (its programs use bpf_get_current_task_btf);
#   < 5.12  no network monitor (its programs use BPF atomic fetch/cmpxchg),
#           and inode_permission takes its inode first (the probe must say 0);
#   a CONFIG_LSM without bpf boots with lsm=<CONFIG_LSM>,bpf.
# The agent suite (spec.action through a real `hive agent` and a containerd in
# the guest, in the modes that deny: $HIVE_TEST_AGENT_MODES, default
# fentry,lsm) talks to a test API server this script starts on the host: a Go
# API server under emulation would take minutes. The guest reaches it through
# qemu's user network, where the host is 10.96.0.1, an address its certificate
# names (the "kubernetes" Service's ClusterIP).
# env: HIVE_CACHE (default ~/.cache/hive) keeps unpacked kernels and initramfs
#      per package version; HIVE_KERNEL_TIMEOUT (s, default 1200) bounds a guest;
#      HIVE_TEST_MODES, HIVE_EXPECT_MODES, HIVE_EXPECT_AUTO and
#      HIVE_KERNEL_SUITES (fileaccess,netmon,agent; or hook, evasion) override what runs and what the
#      guest must find (on every kernel); HIVE_BPF_DIR runs
#      another build of the BPF objects (the selfcheck uses it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${HIVE_CACHE:-$HOME/.cache/hive}/kernels
bullseye=${HIVE_CACHE:-$HOME/.cache/hive}/apt-bullseye
timeout_s=${HIVE_KERNEL_TIMEOUT:-1200}
fetch_only=false
if [ "${1:-}" = --fetch ]; then fetch_only=true; shift; fi
read -r -a kernels <<< "${*:-${KERNELS:-5.10 6.1 6.12}}"
mkdir -p "$cache"

log() { echo "test-kernels: $*" >&2; }
die() { log "$*"; exit 1; }

for tool in qemu-system-x86_64 /bin/busybox cpio xz dpkg-deb apt-get; do
  command -v "$tool" >/dev/null || die "$tool missing: run 'make deps'"
done

# "URI RELEASE" of each Debian source of this system's apt.
apt_mirrors() {
  # shellcheck disable=SC2016 # $(...) are apt's format fields, not the shell's
  apt-get indextargets --format '$(ORIGIN) $(REPO_URI) $(RELEASE)'
}

# Debian 11's kernels: a private apt configuration (own source list, lists
# and cache) whose entries are the system's Debian mirrors with bullseye in
# place of this system's release. Sets apt_opts for a package or alias.
apt_opts=()
use_apt_for() {
  apt_opts=()
  case $1 in 5.10 | linux-image-5.10.*) ;; *) return ;; esac
  local codename line uri rel
  mkdir -p "$bullseye/lists/partial" "$bullseye/cache/archives/partial" "$bullseye/sources.list.d"
  if [ ! -s "$bullseye/sources.list" ]; then
    codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
    [ -n "$codename" ] || die "5.10: cannot tell this system's Debian release (VERSION_CODENAME in /etc/os-release)"
    : > "$bullseye/sources.list.tmp"
    while read -r line; do
      uri=${line%% *} rel=${line#* }
      case $rel in
        "$codename" | "$codename"-security | "$codename"-updates)
          echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bullseye${rel#"$codename"} main" >> "$bullseye/sources.list.tmp" ;;
      esac
    done < <(apt_mirrors | sed -n 's/^Debian //p' | sort -u)
    [ -s "$bullseye/sources.list.tmp" ] || die "5.10: no Debian $codename mirror in apt's sources to take bullseye from"
    mv "$bullseye/sources.list.tmp" "$bullseye/sources.list"
  fi
  apt_opts=(-o "Dir::Etc::SourceList=$bullseye/sources.list" -o "Dir::Etc::SourceParts=$bullseye/sources.list.d"
            -o "Dir::State::Lists=$bullseye/lists" -o "Dir::Cache=$bullseye/cache")
}

# Alias -> the newest matching package apt knows.
resolve_pkg() {
  local k=$1 pattern
  case $k in
    5.10) pattern='^linux-image-5\.10\.0-[0-9]+-amd64-unsigned$' ;;
    6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
    6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
    linux-image-*) echo "$k"; return ;;
    *) die "unknown kernel '$k': give a Debian linux-image-*-unsigned package, or 5.10 / 6.1 / 6.12" ;;
  esac
  local pkg
  use_apt_for "$k"
  pkg=$(apt-cache "${apt_opts[@]}" pkgnames linux-image- | grep -E "$pattern" | sort -V | tail -1)
  if [ -z "$pkg" ]; then
    apt-get "${apt_opts[@]}" update -qq >&2 || die "apt-get update failed (needed to find $k)"
    pkg=$(apt-cache "${apt_opts[@]}" pkgnames linux-image- | grep -E "$pattern" | sort -V | tail -1)
  fi
  [ -n "$pkg" ] || die "no package matches $pattern in apt's lists"
  echo "$pkg"
}

# Downloads and unpacks a kernel package once per version; prints its dir.
fetch_kernel() {
  local pkg=$1 ver dir tmp
  use_apt_for "$pkg"
  ver=$(apt-cache "${apt_opts[@]}" policy "$pkg" | sed -n 's/ *Candidate: //p')
  if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then die "apt has no candidate for $pkg"; fi
  dir=$cache/${pkg}_${ver}
  if [ ! -f "$dir/.unpacked" ]; then
    log "fetching $pkg $ver"
    tmp=$(mktemp -d); chmod 755 "$tmp"
    (cd "$tmp" && apt-get "${apt_opts[@]}" download -q "$pkg=$ver" >&2) || die "apt-get download $pkg=$ver failed"
    rm -rf "$dir"; mkdir -p "$dir"
    dpkg-deb -x "$tmp"/*.deb "$dir/root"
    rm -rf "$tmp"
    touch "$dir/.unpacked"
  fi
  echo "$dir"
}

# A small initramfs: busybox, /init, the 9p modules of this kernel, and what
# the network monitor's tests need (veth, the clsact qdisc, the bpf classifier),
# and what the agent suite needs (a virtio NIC, overlayfs for containerd).
# The list is in load order (each module after what its depends= names): 6.1
# needs all of the 9p/virtio ones; 5.10 has no netfs, virtio_pci_modern_dev or
# virtio_pci_legacy_dev (virtio_ring virtio virtio_pci fscache 9pnet
# 9pnet_virtio 9p, plain .ko); 6.12 has the virtio ones built in and ships
# .ko.xz (netfs 9pnet 9pnet_virtio 9p).
build_initrd() {
  local dir=$1 kver=$2 stage m f
  [ -f "$dir/initrd.gz" ] && [ "$dir/initrd.gz" -nt "$repo/test/kernels/init" ] && [ "$dir/initrd.gz" -nt "$repo/test/kernels/run.sh" ] && return
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,proc,sys,dev,modules}
  cp /bin/busybox "$stage/bin/busybox"
  cp "$repo/test/kernels/init" "$stage/init"
  : > "$stage/modules.order"
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p \
           veth sch_ingress cls_bpf failover net_failover virtio_net overlay; do
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

# 1 when kernel release $1 (5.10.0-46-amd64) is at least $2 (5.12).
at_least() {
  [ "$(printf '%s\n' "$2" "${1%%-*}" | sort -V | head -1)" = "$2" ]
}

# What runs and what the guest must find on kernel $1 (release) unpacked in $2:
# sets modes, expect, auto, suites, inode_arg, append and left_out (what the
# kernel cannot run, each with the missing feature, when not overridden).
profile() {
  local kver=$1 dir=$2 all=kprobe,fentry,lsm,tracepoint lsms
  suites=fileaccess,netmon,agent append="" left_out=() inode_arg=1
  if ! at_least "$kver" 5.11; then
    all=kprobe,fentry,lsm
    [ -n "${HIVE_TEST_MODES:-}" ] || left_out+=("tracepoint mode: its programs call bpf_get_current_task_btf (5.11+), the probe must find it unsupported")
  fi
  if ! at_least "$kver" 5.12; then
    inode_arg=0 # inode_permission(inode, mask): the pre-5.12 programs must be the ones loaded
    suites=fileaccess,agent
    [ -n "${HIVE_KERNEL_SUITES:-}" ] || left_out+=("network monitor: its TC programs use BPF atomic fetch-or/cmpxchg (5.12+; 5.10 refuses them: BPF_STX uses reserved fields)")
  fi
  suites=${HIVE_KERNEL_SUITES:-$suites}
  modes=${HIVE_TEST_MODES:-$all}
  expect=${HIVE_EXPECT_MODES:-$all}
  auto=${HIVE_EXPECT_AUTO:-fentry}
  # The bpf LSM must be active for the lsm mode: Debian 11 builds it in but
  # leaves it out of CONFIG_LSM, so it is switched on the way a user would.
  lsms=$(sed -n 's/^CONFIG_LSM="\(.*\)"$/\1/p' "$dir/root/boot/config-$kver")
  case ",$lsms," in
    *,bpf,* | ,,) ;;
    *) append="lsm=$lsms,bpf" ;;
  esac
}

# The agent suite's API server, one per guest (each guest's suites name their
# own nodes and namespaces, but a fresh server keeps runs apart): started on
# the host, its kubeconfig rewritten for the guest into the results share.
cluster_dir=""
start_cluster() {
  local results=$1 kc
  cluster_dir=$(mktemp -d /tmp/hive-kernel-cluster-XXXXXX)
  kc=$(HIVE_CLUSTER_DIR=$cluster_dir "$repo/test/cluster/up.sh" | sed -n 's/^export KUBECONFIG=//p')
  [ -f "$kc" ] || die "the agent suite's API server did not start (test/cluster/up.sh)"
  sed 's|server: https://127\.0\.0\.1:|server: https://10.96.0.1:|' "$kc" > "$results/kubeconfig"
  grep -q 'server: https://10.96.0.1:' "$results/kubeconfig" || die "cannot point $kc at 10.96.0.1 for the guest"
  {
    echo "export HIVE_TEST_CLUSTER=/tmp/results/kubeconfig"
    echo "export HIVE_TEST_AGENT_MODES=${HIVE_TEST_AGENT_MODES:-fentry,lsm}"
  } >> "$results/env"
}
stop_cluster() {
  [ -n "$cluster_dir" ] || return 0
  HIVE_CLUSTER_DIR=$cluster_dir "$repo/test/cluster/down.sh" >&2 || true
  rm -rf "$cluster_dir"
  cluster_dir=""
}
trap stop_cluster EXIT
trap 'stop_cluster; exit 130' INT
trap 'stop_cluster; exit 143' TERM

failed=()
summary=()
for k in "${kernels[@]}"; do
  pkg=$(resolve_pkg "$k")
  dir=$(fetch_kernel "$pkg")
  vmlinuz=$(find "$dir/root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | head -1)
  kver=${vmlinuz##*/vmlinuz-}
  build_initrd "$dir" "$kver"
  if $fetch_only; then log "fetched $kver ($pkg)"; continue; fi
  profile "$kver" "$dir"
  results=$(mktemp -d /tmp/hive-kernel-XXXXXX)
  chmod 777 "$results"
  [ -n "${HIVE_BPF_DIR:-}" ] && echo "export HIVE_BPF_DIR=$HIVE_BPF_DIR" > "$results/env"
  nic=(-nic none)
  case ",$suites," in *,agent,*)
    start_cluster "$results"
    nic=(-nic "user,model=virtio-net-pci,net=10.96.0.0/24,host=10.96.0.1") ;;
  esac
  log "booting $kver ($pkg) under qemu TCG: modes $modes, suites $suites${append:+, $append}"
  for l in "${left_out[@]}"; do log "$kver: left out: $l"; done
  start=$(date +%s)
  set +e
  # One TCG thread for both vCPUs: with thread=multi a 6.12 guest panicked in
  # bpf_lsm_inode_permission+0x5 (inside the 5-byte nop the kernel patches when
  # a trampoline attaches, while the other vCPU ran it) in about 1 run of 4;
  # single-threaded TCG keeps code modification coherent, at no measured cost here.
  # no_timer_check: under emulation on a busy host the IO-APIC timer check can
  # see no tick in time and panic the boot ("IO-APIC + timer doesn't work!",
  # seen on 5.10 while the host suites ran); the check proves nothing here.
  timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
    -accel tcg,thread=single -cpu max -smp 2 -m 1024 \
    -nographic -no-reboot -monitor none -serial stdio "${nic[@]}" \
    -kernel "$vmlinuz" -initrd "$dir/initrd.gz" \
    -append "console=ttyS0 panic=-1 no_timer_check quiet loglevel=3 $append hive.repo=$repo hive.modes=$modes hive.expect=$expect hive.auto=$auto hive.suites=$suites" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$results,mount_tag=results,security_model=none" \
    < /dev/null > "$results/console.log" 2>&1
  qrc=$?
  stop_cluster
  secs=$(( $(date +%s) - start ))
  rc=$(cat "$results/exit-code" 2>/dev/null || echo none)
  pass=$(cat "$results"/*.tap 2>/dev/null | grep -E '^# pass' | awk '{s+=$3} END {print s+0}')
  fail=$(cat "$results"/*.tap 2>/dev/null | grep -E '^# fail' | awk '{s+=$3} END {print s+0}')
  auto_mode=$(sed -n 's/.*"auto": "\([a-z]*\)".*/\1/p' "$results/probe.json" 2>/dev/null)
  arg=$(sed -n 's/.*"inodePermissionInodeArg": \([0-9a-z]*\).*/\1/p' "$results/probe.json" 2>/dev/null)
  set -e
  if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    why="guest hung: killed after ${timeout_s}s"
  elif [ "$rc" != 0 ]; then
    why="guest suite exit code $rc"
  elif [ "$pass" = 0 ]; then
    why="no test passed"
  elif [[ ",$suites," == *,fileaccess,* ]] && [ "$arg" != "$inode_arg" ]; then
    # the prototype path this kernel must take (pre-5.12: the inode comes first)
    why="probe found inode_permission's inode at argument ${arg:-?}, expected $inode_arg"
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
    log "ok $kver: $pass passed, 0 failed, auto picks ${auto_mode:-?}, inode arg $arg (${secs}s)"
    [ -n "${HIVE_KEEP_RESULTS:-}" ] || rm -rf "$results"
  fi
  summary+=("$kver: ${why:-ok} ($pass passed, $fail failed, modes $modes, suites $suites, auto=${auto_mode:-?}, inode arg ${arg:-?}, ${secs}s)")
done

$fetch_only && exit 0
printf 'test-kernels: %s\n' "${summary[@]}" >&2
[ ${#failed[@]} -eq 0 ] || die "failed on: ${failed[*]}"
