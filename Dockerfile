# hive's node agent image. Build stage: the same Makefile targets CI runs
# (make deps-build, make build) on Debian bookworm with Node.js 20; runtime
# stage: Node.js, the built JavaScript without its tests, the addon, the BPF
# objects and libbpf's shared library, no compilers. CO-RE: the node needs no
# kernel headers, only its BTF (/sys/kernel/btf/vmlinux) at run time.

FROM node:20-bookworm AS build
WORKDIR /src
# make deps-build: clang, llvm, libbpf-dev, bpftool, ... and npm ci, in a layer
# of its own: a rebuild after a source change reuses it (until the Makefile or
# the lock file changes).
COPY Makefile package.json package-lock.json ./
RUN make deps-build && rm -rf /var/lib/apt/lists/*
COPY . .
# make build: BPF objects (vmlinux.h from the build host's BTF), addon, TypeScript.
# The copied lock file is the one the layer above installed (it is part of that
# layer's key), so the install stamp is renewed rather than npm ci run again.
RUN touch node_modules/.hive-installed && make build && npm prune --omit=dev
# Tests do not ship: the test files, their harnesses (testing/) and the
# benchmarks (bench/) are built for `make test`, not for the node agent.
RUN find operator/dist -name '*.test.js*' -delete \
 && rm -rf operator/dist/testing operator/dist/bench \
 && find operator/dist -type d -empty -delete

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/hive
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/proto ./proto
COPY --from=build /src/operator/dist ./operator/dist
COPY --from=build /src/operator/native/build/Release/hive_native.node ./operator/native/build/Release/
COPY --from=build /src/build/bpf/fileaccess.bpf.o /src/build/bpf/fileaccess-noagg.bpf.o /src/build/bpf/netmon.bpf.o ./build/bpf/
# Runs as root in a privileged pod: loading BPF programs needs CAP_BPF,
# CAP_PERFMON and CAP_NET_ADMIN, and files are read inside other containers' roots.
# hive.js is the bundle (operator/bundle.mjs): the same program in one file
# with only the parts of its libraries it uses, ~45 MiB less RSS than the
# modules (BENCHMARKS.md). A 1 MiB young generation: ~12 MiB less at idle.
ENTRYPOINT ["node", "--max-semi-space-size=1", "/opt/hive/operator/dist/cli/hive.js"]
CMD ["agent"]
