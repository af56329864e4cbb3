#!/bin/bash
# Runs inside the qemu guest, chrooted into the host's (read-only) root: the
# project's own kernel-side tests, in every mode, with the real addon and BPF
# objects from the host's build. Results go to /tmp/results (a 9p share).
# usage: guest.sh REPO MODES EXPECT_MODES EXPECT_AUTO
set -u
repo=$1 modes=$2 expect=$3 auto=$4
out=/tmp/results
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HIVE_TEST_MODES=$modes HIVE_EXPECT_MODES=$expect HIVE_EXPECT_AUTO=$auto
export HIVE_TEST_TIME_SCALE=${HIVE_TEST_TIME_SCALE:-4}
# Set by the host when it runs the matrix against another build (the selfcheck).
[ -f "$out/env" ] && . "$out/env"
cd "$repo" || { echo 1 > "$out/exit-code"; exit 1; }
uname -r > "$out/kernel"
node operator/dist/cli/main.js probe > "$out/probe.json" 2> "$out/probe.err"
# One node process per file: every mode runs in the same process (node takes
# seconds to start under emulation). The CLI is run end to end once, in auto.
node --test --test-concurrency=1 --test-reporter=tap \
  operator/dist/bpf/probe.kernel.test.js \
  operator/dist/bpf/file-access.kernel.test.js > "$out/tests.tap" 2>&1
rc=$?
HIVE_TEST_MODES=auto node --test --test-reporter=tap \
  --test-name-pattern='prints one JSON line per access' \
  operator/dist/cli/trace.kernel.test.js > "$out/cli.tap" 2>&1
rc2=$?
[ $rc -eq 0 ] && rc=$rc2
echo $rc > "$out/exit-code"
