#!/usr/bin/env bash
# Builds (via build.sh) and starts hive-test-apiserver in the background with
# its state in ${HIVE_CLUSTER_DIR:-/tmp/hive-cluster}, waits until it is ready
# (at most ${HIVE_CLUSTER_TIMEOUT:-120} s) and prints
#   export KUBECONFIG=DIR/kubeconfig
# as its last line, so `eval "$(test/cluster/up.sh | tail -n1)"` works.
# Arguments are passed on to the binary, e.g. `up.sh --port 6443 -- --v=2`.
# Stop it with down.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${HIVE_CLUSTER_DIR:-/tmp/hive-cluster}"
timeout="${HIVE_CLUSTER_TIMEOUT:-120}"

bin="$("$here/build.sh" | tail -n1)"

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
pidfile="$dir/apiserver.pid"
if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "up.sh: already running (pid $(cat "$pidfile"), dir $dir); run down.sh first" >&2
  exit 1
fi
rm -f "$dir/kubeconfig" "$pidfile"

out="$dir/apiserver.out"   # stdout: the "ready kubeconfig=..." line
log="$dir/apiserver.log"   # stderr: kube-apiserver's and our own log
start=$(date +%s%N)
nohup "$bin" --dir "$dir" "$@" >"$out" 2>"$log" </dev/null &
pid=$!
echo "$pid" >"$pidfile"

deadline=$(( $(date +%s) + timeout ))
until grep -q '^ready kubeconfig=' "$out" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "up.sh: hive-test-apiserver (pid $pid) exited before it was ready; last lines of $log:" >&2
    tail -n 30 "$log" >&2 || true
    rm -f "$pidfile"
    exit 1
  fi
  if (( $(date +%s) >= deadline )); then
    echo "up.sh: not ready after ${timeout} s; stopping it. Last lines of $log:" >&2
    tail -n 30 "$log" >&2 || true
    kill -TERM "$pid" 2>/dev/null || true
    sleep 5
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    exit 1
  fi
  sleep 0.2
done
kubeconfig="$(sed -n 's/^ready kubeconfig=//p' "$out" | head -n1)"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "up.sh: ready in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s (pid $pid, log $log)" >&2
echo "export KUBECONFIG=$kubeconfig"
