#!/bin/bash
# Runs inside the qemu guest, whose root is the host's (read-only) root: the
# project's own kernel-side tests, in every mode, with the real addon and BPF
# objects from the host's build. Results go to /tmp/results (a 9p share).
# usage: guest.sh REPO MODES EXPECT_MODES EXPECT_AUTO SUITES
#   SUITES: comma-separated, of fileaccess (probe, hook suite, hive trace),
#   netmon (the network monitor's netns suite) and agent (spec.action through
#   a real agent and containerd), or hook (the hook suite alone: what the
#   selfcheck needs to see fail); run.sh leaves out what the kernel cannot
#   run, and says so.
set -u
repo=$1 modes=$2 expect=$3 auto=$4 suites=${5:-fileaccess,netmon,agent}
out=/tmp/results
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HIVE_TEST_MODES=$modes HIVE_EXPECT_MODES=$expect HIVE_EXPECT_AUTO=$auto
# Root, BTF and iproute2 are all here: a suite that skips is a broken matrix.
export HIVE_TEST_REQUIRE=all
unset HIVE_TEST_UNIT_ONLY
export HIVE_TEST_TIME_SCALE=${HIVE_TEST_TIME_SCALE:-3}
# Set by the host when it runs the matrix against another build (the selfcheck).
# shellcheck source=/dev/null
[ -f "$out/env" ] && . "$out/env"
cd "$repo" || { echo 1 > "$out/exit-code"; exit 1; }
uname -r > "$out/kernel"
export HIVE_PROBE_REPORT=$out/probe.json
# One node process for everything: node takes seconds to start under
# emulation. Every mode's hook suite, the probe check, `hive trace` end to
# end once (auto mode), and the network monitor's netns suite; the other CLI
# tests are about argument handling and already run on the host.
files=() patterns=()
case ",$suites," in *,fileaccess,*)
  files+=(fileaccess/probe.kernel.test.js fileaccess/monitor.kernel.test.js fileaccess/watch-keeper.kernel.test.js fileaccess/enforce.kernel.test.js fileaccess/evasion.kernel.test.js cli/trace.kernel.test.js)
  patterns+=('file-access hook' 'probe: modes' 'watch keeper in the running kernel' 'enforcement in the running kernel' 'the evasion table in the running kernel' 'prints one JSON line per access' 'replaced by rename' 'hive trace --deny') ;;
esac
# The agent in the modes that deny, with a containerd here and the host's API
# server (run.sh sets HIVE_TEST_CLUSTER and HIVE_TEST_AGENT_MODES in env).
case ",$suites," in *,agent,*)
  files+=(agent/enforce.e2e.test.js)
  patterns+=('HiveTrace spec.action through the agent') ;;
esac
# The evasion table's rows alone (fileaccess runs them too): to iterate on docs/evasion.md.
case ",$suites," in *,evasion,*)
  files+=(fileaccess/evasion.kernel.test.js)
  patterns+=('the evasion table in the running kernel') ;;
esac
case ",$suites," in *,hook,*)
  files+=(fileaccess/monitor.kernel.test.js)
  patterns+=('file-access hook') ;;
esac
case ",$suites," in *,netmon,*)
  files+=(netmon/netmon.netns.test.js)
  patterns+=('netmon on a network-namespace node') ;;
esac
list=$(printf "'%s'," "${files[@]}")
node --test-reporter=tap \
  --test-name-pattern="$(IFS='|'; echo "${patterns[*]}")" \
  -e "for (const f of [${list%,}]) require('./operator/dist/' + f)" \
  > "$out/tests.tap" 2>&1
rc=$?
echo $rc > "$out/exit-code"
