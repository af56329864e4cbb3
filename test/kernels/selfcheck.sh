#!/usr/bin/env bash
# The matrix must be able to fail: a kprobe program that reads the mask where
# the inode is (the pre-5.12 argument position) must make it fail. Builds that
# broken program next to the real ones and runs the 6.12 guest's hook suite
# in kprobe mode on it (the suite that reads the argument; the other suites
# would only add minutes); passes only when the guest's suite failed.
# usage: selfcheck.sh   (after make build; CLANG and BPF_CFLAGS as the Makefile's)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
out=build/bpf-broken
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
read -r -a cflags <<< "${BPF_CFLAGS:--g -O2 -Wall -target bpf -D__TARGET_ARCH_$arch -Ibuild -Ibpf/include}"
mkdir -p "$out"
sed 's/PT_REGS_PARM2_CORE(ctx)/PT_REGS_PARM1_CORE(ctx)/' bpf/fileaccess.bpf.c > "$out/fileaccess.bpf.c"
if cmp -s bpf/fileaccess.bpf.c "$out/fileaccess.bpf.c"; then echo "selfcheck: the sabotage no longer applies" >&2; exit 1; fi
"${CLANG:-clang}" "${cflags[@]}" -Ibpf -c "$out/fileaccess.bpf.c" -o "$out/fileaccess.bpf.o"
"${CLANG:-clang}" "${cflags[@]}" -Ibpf -DHIVE_NO_AGGREGATE -c "$out/fileaccess.bpf.c" -o "$out/fileaccess-noagg.bpf.o"
if HIVE_BPF_DIR=$repo/$out HIVE_TEST_MODES=kprobe HIVE_KERNEL_SUITES=hook HIVE_KERNEL_TIMEOUT=900 \
    bash test/kernels/run.sh 6.12 > "$out/selfcheck.log" 2>&1; then
  cat "$out/selfcheck.log"; echo "selfcheck: FAILED: the kernel matrix passed a broken BPF program" >&2; exit 1
fi
grep -E 'guest suite exit code [1-9]' "$out/selfcheck.log" >/dev/null || { cat "$out/selfcheck.log"; echo "selfcheck: the matrix failed for another reason" >&2; exit 1; }
echo "selfcheck: ok, the kernel matrix failed on the broken program: $(grep -c '^\s*not ok' "$out/selfcheck.log") failing tests shown"
