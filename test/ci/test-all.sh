#!/usr/bin/env bash
# shellcheck disable=SC2317 # functions run through phase, lane and trap
# make test: every test this machine can run, in lanes that run at once, and a
# time table at the end (build/ci/timings.tsv, printed by test/ci/timetable.sh).
#
#   the Go builds of the test API server and kubectl, then of the node's
#   components (test/cluster/build.sh [--node]), in the background from the
#   start; deps-apt, then the qemu kernels' download (test/kernels/run.sh
#   --fetch) in the background and npm + make build;
#   then these lanes at once, each waiting for what it needs:
#     host     units, this kernel's BPF tests, network namespaces, containerd
#     cluster  the test API server's suites and the agent end to end (API server)
#     node     the image suite (podman), then the real node: node-up once, its
#              suites, node-down (the node's components)
#     kernels  the qemu guests and the matrix's selfcheck (one more guest),
#              $HIVE_CI_GUESTS at a time (default 2; API server and kernels)
#
# Lanes share no state: the cluster suites' API servers and containerds are
# private (temporary directories, own sockets), every netns suite has its own
# addresses and names, the real node is the only user of the standard
# containerd socket, cni0 and /var/lib/kubelet, and each guest has its own API
# server. An earlier run's leftovers are removed first (test/ci/leftovers.sh);
# on failure, interrupt or termination, what this run started is stopped.
#
# env: KERNELS (default "6.1 5.10 6.12": the longest first), HIVE_CI_GUESTS, HIVE_CI_LANES
# (default "host cluster node kernels": a subset runs only those), NODE.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
export HIVE_CI_DIR=${HIVE_CI_DIR:-$repo/build/ci}
ci=$HIVE_CI_DIR
kernels=${KERNELS:-6.1 5.10 6.12}
guests=${HIVE_CI_GUESTS:-2}
lanes=" ${HIVE_CI_LANES:-host cluster node kernels} "
case $guests in '' | *[!0-9]* | 0) echo "test-all: HIVE_CI_GUESTS='$guests': allowed: a whole number of at least 1" >&2; exit 2 ;; esac
for l in $lanes; do
  case $l in host | cluster | node | kernels) ;; *) echo "test-all: unknown lane '$l' in HIVE_CI_LANES: allowed: host, cluster, node, kernels" >&2; exit 2 ;; esac
done

rm -rf "$ci"
mkdir -p "$ci/logs" "$ci/done"
: > "$ci/timings.tsv"
t0=$(date +%s%N)

# phase NAME LANE CMD...: runs CMD with its output in logs/NAME.log, adds a
# line to the time table, marks done/NAME (ok or FAIL) and prints its end.
phase() {
  local name=$1 lane=$2 start rc ms result
  shift 2
  start=$(date +%s%N)
  "$@" > "$ci/logs/$name.log" 2>&1
  rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  result=ok; [ $rc = 0 ] || result=FAIL
  printf '%s\t%s\t%d.%d\t%s\t%s\n' "$lane" "$name" $((ms / 1000)) $(((ms % 1000) / 100)) "$result" "exit $rc" >> "$ci/timings.tsv"
  echo "$result" > "$ci/done/$name"
  echo "test-all: $result $name ($((ms / 1000)) s)"
  if [ $rc != 0 ]; then
    echo "----- $name: last 80 lines of $ci/logs/$name.log"
    tail -n 80 "$ci/logs/$name.log"
    echo "----- end of $name"
  fi
  return "$rc"
}

# await NAME...: waits until each phase is done; fails if one failed.
await() {
  local n
  for n in "$@"; do
    while [ ! -f "$ci/done/$n" ]; do sleep 1; done
    [ "$(cat "$ci/done/$n")" = ok ] || { echo "test-all: $n failed, so this lane cannot run"; return 1; }
  done
}

pids=()
cleanup() {
  local p
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  bash test/ci/leftovers.sh all > "$ci/logs/cleanup.log" 2>&1 || cat "$ci/logs/cleanup.log"
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# lane NAME CMD...: CMD in the background, in its own process group.
lane() {
  local name=$1
  shift
  set -m
  ( "$@" ) &
  pids+=($!)
  set +m
  echo "test-all: lane $name started"
}

need_go=false need_kernels=false
case $lanes in *" cluster "* | *" node "* | *" kernels "*) need_go=true ;; esac
case $lanes in *" kernels "*) need_kernels=true ;; esac
# Go needs nothing from apt, so its builds start first: the API server and
# kubectl (the cluster and kernels lanes need them), then the node's
# components (only the node lane does) at nice 10: on a cold machine they
# build while the guests and suites run, and must not starve them.
go_builds() {
  phase go-apiserver setup bash -c 'make --no-print-directory deps-go && bash test/cluster/build.sh' || { echo FAIL > "$ci/done/go-node"; return 1; }
  phase go-node setup nice -n 10 bash test/cluster/build.sh --node
}
$need_go && lane go-build go_builds
phase deps-apt setup make --no-print-directory deps-apt || exit 1

# shellcheck disable=SC2086 # a list of kernels
$need_kernels && lane kernels-fetch phase kernels-fetch setup bash test/kernels/run.sh --fetch $kernels
phase deps-npm setup make --no-print-directory deps-npm || exit 1
phase build setup make --no-print-directory build build/bpf/bench.bpf.o build/storm || exit 1
# Leftovers of an earlier run (a node, API servers, guests) go before any lane
# starts (after the build: the node's teardown is node-ctl's).
phase leftovers setup bash test/ci/leftovers.sh all || exit 1

files() { find operator/dist -name '*.test.js' | sort | grep -E "$1"; }

lane_cluster() {
  await go-apiserver || return 1
  bash test/ci/suites.sh cluster "$@"
}

# The image suite first (it needs no Go: on a cold machine it runs while the
# API server builds; deploy.node's make image then reuses its podman layers),
# then one node for the node suites (they keep a node they did not start).
lane_node() {
  local image=$1 rc=0
  shift
  bash test/ci/suites.sh node "$image" || rc=1
  await go-node || return 1
  phase node-up node "$NODE_BIN" operator/dist/testing/node-ctl.js up || { phase node-down node bash test/ci/leftovers.sh node; return 1; }
  bash test/ci/suites.sh node "$@" || rc=1
  phase node-down node bash test/ci/leftovers.sh node || rc=1
  return "$rc"
}

# The guests and the selfcheck (one more guest), $guests at a time, longest
# first; each guest boots its own API server. Guests are throughput (their
# waits stretch by HIVE_TEST_TIME_SCALE), the host suites are not: the guests
# run at a lower priority (nice 10) and take what CPU the host suites leave.
lane_kernels() {
  await go-apiserver kernels-fetch || return 1
  local rc=0 running=0 job
  for job in $kernels selfcheck; do
    if [ "$job" = selfcheck ]; then
      phase kernels-selfcheck kernels nice -n 10 bash test/kernels/selfcheck.sh &
    else
      phase "kernel-$job" kernels nice -n 10 bash test/kernels/run.sh "$job" &
    fi
    running=$((running + 1))
    if [ "$running" -ge "$guests" ]; then wait -n || rc=1; running=$((running - 1)); fi
  done
  while [ "$running" -gt 0 ]; do wait -n || rc=1; running=$((running - 1)); done
  return "$rc"
}

NODE_BIN=${NODE:-node}
# shellcheck disable=SC2046 # file lists
case $lanes in *" host "*) lane host bash test/ci/suites.sh host $(files '.' | grep -v -E '\.(cluster|e2e|node)\.test\.js$|/image\.integration\.test\.js$') ;; esac
# shellcheck disable=SC2046
case $lanes in *" cluster "*) lane cluster lane_cluster $(files '\.(cluster|e2e)\.test\.js$') ;; esac
# shellcheck disable=SC2046
case $lanes in *" node "*) lane node lane_node $(files '/image\.integration\.test\.js$') $(files '\.node\.test\.js$' | sort -r) ;; esac
case $lanes in *" kernels "*) lane kernels lane_kernels ;; esac

failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
pids=()
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
printf '%s\t%s\t%d.%d\t%s\t%s\n' all "make test" $((ms / 1000)) $(((ms % 1000) / 100)) "$([ $failed = 0 ] && echo ok || echo FAIL)" "wall time" >> "$ci/timings.tsv"
bash test/ci/timetable.sh "$ci/timings.tsv"
exit $failed
