#!/usr/bin/env bash
# Stops what a test run leaves behind when it is killed or fails before its
# own teardown, and names each thing in one line:
#   node  the real node of make node-up (kubelet, controllers, containerd and
#         its pods, cni0, mounts) and its API server ($HIVE_CLUSTER_DIR)
#   all   node, plus the qemu guests of this checkout, their API servers
#         (/tmp/hive-kernel-cluster-*), the suites' own API servers
#         (/tmp/hive-cluster-*) whose process still runs, and what a private
#         containerd of the harness (/tmp/hctrd-*) left when it was killed:
#         its shims and their containers, mounts and directory; and the
#         network namespaces and veths of the netns suites' topologies
#         (testing/netns.ts: h[vce]<pid % 100000><name>) whose process is gone:
#         a stale one holds the same subnets' routes and misroutes the next
# usage: leftovers.sh node|all
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
scope=${1:-}
case $scope in node | all) ;; *) echo "usage: leftovers.sh node|all" >&2; exit 2 ;; esac
cluster_dir=${HIVE_CLUSTER_DIR:-/tmp/hive-cluster}
node_dir=${HIVE_NODE_DIR:-/tmp/hive-node}
rc=0

# The node: node-ctl down stops its daemons in the order that leaves no veth,
# netns or mount behind, and removes stale state of a node that died.
if [ -d "$node_dir" ]; then
  if [ -f "$repo/operator/dist/testing/node-ctl.js" ]; then
    HIVE_CLUSTER_DIR=$cluster_dir HIVE_NODE_DIR=$node_dir "${NODE:-node}" "$repo/operator/dist/testing/node-ctl.js" down || rc=1
  else
    echo "leftovers: $node_dir exists but this checkout is not built (operator/dist/testing/node-ctl.js): run make build first" >&2
    rc=1
  fi
fi
if [ -f "$cluster_dir/apiserver.pid" ]; then
  echo "leftovers: stopping the API server of $cluster_dir"
  HIVE_CLUSTER_DIR=$cluster_dir bash "$repo/test/cluster/down.sh" || rc=1
fi

if [ "$scope" = all ]; then
  # qemu guests booted from this checkout (their command line names it)
  for p in $(pgrep -f "qemu-system-x86_64 .*hive.repo=$repo " || true); do
    echo "leftovers: stopping a qemu guest of an earlier run (pid $p)"
    kill -KILL "$p" 2>/dev/null || true
  done
  for d in /tmp/hive-kernel-cluster-* /tmp/hive-cluster-*; do
    [ -f "$d/apiserver.pid" ] || continue
    pid=$(cat "$d/apiserver.pid")
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q hive-test-apiserver; then
      echo "leftovers: stopping the API server of $d (pid $pid)"
      HIVE_CLUSTER_DIR=$d bash "$repo/test/cluster/down.sh" || rc=1
    fi
  done
  # a harness containerd that is gone (killed with its test) leaves its shims,
  # their containers and the rootfs mounts; one that runs belongs to a live test
  for d in /tmp/hctrd-*; do
    [ -d "$d" ] || continue
    pgrep -f "^containerd --config $d/" > /dev/null && continue
    shims=$(pgrep -f "containerd-shim.* -address $d/" || true)
    if [ -n "$shims" ]; then
      echo "leftovers: stopping the shims and containers of a dead harness containerd ($d: $(echo "$shims" | wc -w) shim(s))"
      for p in $shims; do
        pkill -KILL -P "$p" 2>/dev/null || true
        kill -KILL "$p" 2>/dev/null || true
      done
    fi
    # innermost first: a container's mounts sit on its rootfs
    grep -o " $d/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$d" 2>/dev/null || { echo "leftovers: cannot remove $d" >&2; rc=1; }
  done
  live=" $(for p in $(pgrep -x node || true); do echo $((p % 100000)); done | tr '\n' ' ') "
  stale() { [[ $1 =~ ^h[vce]([0-9]+)[a-z0-9]*$ ]] && [[ $live != *" ${BASH_REMATCH[1]} "* ]]; }
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    stale "$ns" || continue
    echo "leftovers: removing the network namespace $ns of a test topology whose process is gone"
    ip netns del "$ns" || rc=1
  done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'); do
    stale "$l" || continue
    echo "leftovers: removing the veth $l of a test topology whose process is gone"
    ip link del "$l" 2>/dev/null || true
  done
fi
exit $rc
