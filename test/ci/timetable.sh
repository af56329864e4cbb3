#!/usr/bin/env bash
# Prints make test's time table from build/ci/timings.tsv (lane, name,
# seconds, result, detail): every phase and test file with its seconds, each
# lane's sum, the ten slowest files, and the wall time.
# usage: timetable.sh [TIMINGS]
set -euo pipefail
f=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build/ci/timings.tsv}
[ -s "$f" ] || { echo "timetable: no timings in $f" >&2; exit 1; }
echo "===== make test: time table (seconds; lanes ran at once, so their sums overlap)"
awk -F'\t' '
  { lane[NR]=$1; name[NR]=$2; secs[NR]=$3; res[NR]=$4; det[NR]=$5; if (!($1 in sum)) order[++n]=$1; sum[$1]+=$3; cnt[$1]++ }
  END {
    for (i = 1; i <= n; i++) {
      l = order[i]; if (l == "all") continue
      printf "%-8s %8.1f s  (%d)\n", l, sum[l], cnt[l]
      for (j = 1; j <= NR; j++) if (lane[j] == l) printf "  %-46s %7.1f  %-4s %s\n", name[j], secs[j], res[j], det[j]
    }
    for (j = 1; j <= NR; j++) if (lane[j] == "all") printf "%-55s %7.1f  %s\n", name[j] " (" det[j] ")", secs[j], res[j]
  }' "$f"
echo "----- slowest ten"
awk -F'\t' '$1 != "all" { printf "%8.1f  %s/%s\n", $3, $1, $2 }' "$f" | sort -rn | head -10
