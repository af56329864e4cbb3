#!/usr/bin/env bash
# Runs test files one after the other, each in its own `node --test`, as one
# lane of make test (test/ci/test-all.sh runs several lanes at once). Each
# file's TAP goes to $HIVE_CI_DIR/logs/LANE/<file>.tap, and one line per file
# to $HIVE_CI_DIR/timings.tsv (lane, name, seconds, result, counts) for the
# time table; a failing file's failures are printed. Exits 1 if any failed.
# usage: suites.sh LANE FILE...   (FILE: operator/dist/**/*.test.js)
set -uo pipefail
lane=${1:?usage: suites.sh LANE FILE...}
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${HIVE_CI_DIR:-$repo/build/ci}
logs=$dir/logs/$lane
mkdir -p "$logs"
node=${NODE:-node}
failed=0
for f in "$@"; do
  name=${f#operator/dist/}
  name=${name%.test.js}
  log=$logs/${name//\//_}.tap
  start=$(date +%s%N)
  "$node" --test --test-reporter=tap "$f" > "$log" 2>&1
  rc=$?
  secs=$(( ($(date +%s%N) - start) / 1000000 ))
  secs=$(printf '%d.%d' $((secs / 1000)) $(((secs % 1000) / 100)))
  # the summary lines of the outermost run (no indentation)
  count() { sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$log" | tail -1; }
  pass=$(count pass) fail=$(count fail) skip=$(count skipped) todo=$(count todo)
  counts="${pass:-0} pass, ${fail:-0} fail, ${skip:-0} skip"
  [ "${todo:-0}" = 0 ] || counts="$counts, $todo todo"
  if [ "$rc" = 0 ] && [ "${fail:-0}" = 0 ]; then
    result=ok
  else
    result=FAIL
    failed=1
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$lane" "$name" "$secs" "$result" "$counts" >> "$dir/timings.tsv"
  echo "test[$lane]: $result $name ($counts, ${secs} s)"
  if [ "$result" = FAIL ]; then
    echo "----- $name: failures (whole TAP in $log)"
    if grep -q '^\s*not ok' "$log"; then
      grep -B2 -A30 '^\s*not ok' "$log" | head -200
    else
      tail -n 60 "$log"
    fi
    echo "----- end of $name"
  fi
done
exit $failed
