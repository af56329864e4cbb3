#!/usr/bin/env bash
# Stops the hive-test-apiserver started by up.sh (SIGTERM, then SIGKILL after
# 10 s) using ${HIVE_CLUSTER_DIR:-/tmp/hive-cluster}/apiserver.pid, then
# removes that directory.
set -euo pipefail

dir="${HIVE_CLUSTER_DIR:-/tmp/hive-cluster}"
case "$dir" in
  ""|"/") echo "down.sh: refusing to remove '$dir'" >&2; exit 1 ;;
esac
pidfile="$dir/apiserver.pid"

alive() {
  # A zombie (not yet reaped by its parent) counts as stopped.
  [[ -r "/proc/$1/stat" ]] || return 1
  local rest
  rest="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ "${rest%% *}" != Z ]]
}

if [[ -f "$pidfile" ]]; then
  pid="$(cat "$pidfile")"
  # Only signal the pid if it is still our binary (pids get reused).
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" &&
     tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'hive-test-apiserver'; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      alive "$pid" || break
      sleep 0.2
    done
    if alive "$pid"; then
      echo "down.sh: pid $pid still running after 10 s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 25); do
        alive "$pid" || break
        sleep 0.2
      done
    fi
    echo "down.sh: stopped pid $pid" >&2
  fi
fi
rm -rf "$dir"
