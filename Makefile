# hive — build, run and test. `make run` and `make test` install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := build

NODE      ?= node
# Node's headers ship with Node itself; node-gyp must not try to download them.
# (Deferred: `make deploy` on a laptop without Node.js must not trip over it.)
NODEDIR    = $(shell $(NODE) -p "require('path').resolve(process.execPath, '../..')")
BUILD     := build
BPF_OBJS  := $(BUILD)/bpf/fileaccess.bpf.o $(BUILD)/bpf/fileaccess-noagg.bpf.o $(BUILD)/bpf/netmon.bpf.o
# The benchmarks' programs (load generator, empty tracepoint floor): built for
# `make bench` and the tests, never by `make build`, so the image lacks them.
BENCH_OBJ := $(BUILD)/bpf/bench.bpf.o
ADDON     := operator/native/build/Release/hive_native.node
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CLANG     ?= clang
BPF_CFLAGS := -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ibpf/include

# Debian packages: the build's (also what the image's build stage installs),
# and what the tests need on top (make deps installs the missing ones).
APT_BUILD_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make g++ python3
# The agent image without Docker or a registry (make image): podman builds the
# Dockerfile over base images mmdebstrap makes from Debian packages.
APT_IMAGE_PKGS := podman mmdebstrap
# The peers make bench compares hive with (bench/peers.ts): bpftrace and auditd.
APT_PEER_PKGS := bpftrace auditd
APT_PKGS  := $(APT_BUILD_PKGS) iproute2 util-linux qemu-system-x86 busybox-static cpio xz-utils \
             containerd runc iperf3 shellcheck $(APT_IMAGE_PKGS) $(APT_PEER_PKGS)
# The qemu kernel matrix: Debian kernel packages, or the aliases 5.10 / 6.1 /
# 6.12 (the newest generic amd64 image of that series; 5.10 is Debian 11's, the
# pre-5.12 inode_permission prototype). Add more with KERNELS="...".
KERNELS   ?= 5.10 6.1 6.12
TEST_FILES = $(shell find operator/dist -name '*.test.js' | sort)


.PHONY: deps deps-build deps-apt deps-apt-build deps-npm deps-go build bpf addon ts proto-types run test test-fast test-host test-unit test-bpf bench clean \
        test-containerd containerd-up containerd-down manifests test-cluster test-netns \
        test-kernels test-kernels-selfcheck cluster-up cluster-down node-up node-down test-node manifests deploy undeploy docker-build deploy-overlay

deps: deps-apt deps-npm deps-go
# What `make build` needs, and no more (the image's build stage runs it).
deps-build: deps-apt-build deps-npm

deps-apt:
	@$(call apt_install,$(APT_PKGS))
deps-apt-build:
	@$(call apt_install,$(APT_BUILD_PKGS))

define apt_install
missing=""; for p in $(1); do \
  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
  echo "deps: installing Debian packages:$$missing"; \
  export DEBIAN_FRONTEND=noninteractive; \
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef

# npm ci only when the lock file changed since the last install.
deps-npm: node_modules/.hive-installed
node_modules/.hive-installed: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Go modules of the test API server (test/cluster); the module cache is reused.
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
deps-go:
	@cd test/cluster && $(GO) mod download

build: deps-build $(BPF_OBJS) $(ADDON) ts

bpf: $(BPF_OBJS)

$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	@test -r /sys/kernel/btf/vmlinux || { echo "build: /sys/kernel/btf/vmlinux missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y" >&2; exit 1; }
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/include/*.h bpf/*.bpf.h $(BUILD)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The file-access hook without storm aggregation, for kernels before 5.12
# (Debian 11's 5.10), whose verifier refuses an object holding BPF atomic
# fetch/cmpxchg instructions even where they are never reached.
$(BUILD)/bpf/fileaccess-noagg.bpf.o: bpf/fileaccess.bpf.c bpf/include/*.h bpf/*.bpf.h $(BUILD)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -DHIVE_NO_AGGREGATE -c $< -o $@

# make bench only: the cast tracepoint hook stopped after stage N (see
# HIVE_TP_STOP in bpf/fileaccess.bpf.c), to measure where its cost goes.
BENCH_STAGE_OBJS := $(foreach n,1 2 3,$(BUILD)/bpf/bench/fileaccess-stage$(n).bpf.o)
$(BUILD)/bpf/bench/fileaccess-stage%.bpf.o: bpf/fileaccess.bpf.c bpf/include/*.h $(BUILD)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -DHIVE_TP_STOP=$* -c $< -o $@

addon: $(ADDON)
$(ADDON): operator/native/binding.gyp operator/native/src/*.cc operator/native/src/*.h node_modules/.hive-installed
	cd operator/native && ../../node_modules/.bin/node-gyp rebuild --nodedir=$(NODEDIR) --jobs=2 --loglevel=error >/dev/null
	@test -f $@

ts: node_modules/.hive-installed proto-types
	node_modules/.bin/tsc -p tsconfig.json
	$(NODE) operator/bundle.mjs

# TypeScript types of the gRPC messages, generated from proto/ (not committed).
PROTOS := $(sort $(wildcard proto/*/*.proto))
proto-types: operator/src/generated/proto/.stamp
operator/src/generated/proto/.stamp: $(PROTOS) node_modules/.hive-installed
	rm -rf operator/src/generated/proto
	node_modules/.bin/proto-loader-gen-types --keepCase --longs=Number --enums=String --defaults --oneofs \
	  --grpcLib=@grpc/grpc-js --outDir=operator/src/generated/proto $(PROTOS) >/dev/null
	touch $@

# Builds, then audits a default set of sensitive host paths (config/trace/default-paths.txt).
run: build
	$(NODE) operator/dist/cli/hive.js trace --pretty --skip-missing $$(grep -v '^\s*#' config/trace/default-paths.txt)

# Everything this machine can run: the host suites, the real node and the qemu
# kernel matrix with its selfcheck, in lanes that run at once
# (test/ci/test-all.sh), ending with a time table (build/ci/timings.tsv).
# It installs and builds what it needs itself, timing each phase.
test:
	bash test/ci/test-all.sh

# For iteration, a few minutes: the pure units and this kernel's BPF and
# network-namespace suites (no containerd, API server, node or qemu).
test-fast: deps build $(BENCH_OBJ) $(BUILD)/storm
	bash test/ci/suites.sh fast $(shell find operator/dist -name '*.test.js' | grep -v -E '\.(cluster|e2e|node|integration)\.test\.js$$' | sort)
	@bash test/ci/timetable.sh

# Every test file on this machine's kernel (units and real-kernel tests).
test-host: deps build $(BENCH_OBJ) $(BUILD)/storm
	$(NODE) --test --test-concurrency=1 $(TEST_FILES)

# Debian kernels under qemu: the kernel-side tests in kprobe, fentry, lsm and
# tracepoint mode, as far as each kernel has them (run.sh says what it leaves
# out; kernel packages cached in ~/.cache/hive/kernels).
test-kernels: deps build $(BENCH_OBJ) $(BUILD)/storm
	bash test/kernels/run.sh $(KERNELS)

# The matrix must be able to fail: a kprobe program that reads the mask where
# the inode is (the pre-5.12 argument position) must make it fail.
test-kernels-selfcheck: deps build
	bash test/kernels/selfcheck.sh

# Pure units only: no root, no kernel.
test-unit: deps build $(BENCH_OBJ)
	HIVE_TEST_UNIT_ONLY=1 $(NODE) --test $(TEST_FILES)

# The real-kernel tests on this machine (root).
test-bpf: deps build $(BENCH_OBJ) $(BUILD)/storm
	$(NODE) --test --test-concurrency=1 $(shell find operator/dist -name '*.kernel.test.js' | sort)

# The network monitor on this kernel, between network namespaces made by the tests.
test-netns: deps build
	$(NODE) --test --test-concurrency=1 $(shell find operator/dist -name '*.netns.test.js' | sort)

bench: deps build $(BENCH_OBJ) $(BENCH_STAGE_OBJS) $(BUILD)/openloop $(BUILD)/storm
	$(NODE) operator/dist/bench/main.js

$(BUILD)/openloop: test/bench/openloop.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -Wall -o $@ $<

# A process opening one file over and over: the storm tests and benchmark.
$(BUILD)/storm: test/bench/storm.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -Wall -o $@ $<

# Real containerd + runc (a private instance per test run; needs root).
test-containerd: deps build
	$(NODE) --test --test-concurrency=1 $(shell find operator/dist -name '*.integration.test.js' | sort)

# A private containerd with one pod to try `hive trace --container` by hand;
# prints (and writes to build/containerd-harness.env) the variables to use it.
containerd-up: build
	@if [ -f $(BUILD)/containerd-harness.pid ] && kill -0 $$(cat $(BUILD)/containerd-harness.pid) 2>/dev/null; then \
	  cat $(BUILD)/containerd-harness.env; exit 0; fi
	@rm -f $(BUILD)/containerd-harness.env
	@nohup $(NODE) operator/dist/testing/containerd-up.js > $(BUILD)/containerd-harness.log 2>&1 & echo $$! > $(BUILD)/containerd-harness.pid
	@for i in $$(seq 100); do [ -f $(BUILD)/containerd-harness.env ] && break; sleep 0.2; done
	@cat $(BUILD)/containerd-harness.env 2>/dev/null || { cat $(BUILD)/containerd-harness.log; exit 1; }

containerd-down:
	@if [ -f $(BUILD)/containerd-harness.pid ]; then pid=$$(cat $(BUILD)/containerd-harness.pid); \
	  kill $$pid 2>/dev/null; while kill -0 $$pid 2>/dev/null; do sleep 0.2; done; rm -f $(BUILD)/containerd-harness.pid; fi

# Regenerates what is generated from code: the HiveTrace CRD.
manifests: ts
	$(NODE) operator/dist/kube/gen-manifests.js

clean:
	rm -rf $(BUILD) operator/dist operator/native/build

# The real kube-apiserver (test/cluster, built once and cached in
# ~/.cache/hive/kube-apiserver), in the background; the last line printed is
# `export KUBECONFIG=<path>`.
CLUSTER_DIR ?= /tmp/hive-cluster
cluster-up: deps-go
	@HIVE_CLUSTER_DIR=$(CLUSTER_DIR) bash test/cluster/up.sh | tail -n1

cluster-down:
	@HIVE_CLUSTER_DIR=$(CLUSTER_DIR) bash test/cluster/down.sh

# One real node on this machine (testing/node.ts): the API server with
# --node, kube-controller-manager, kube-scheduler, a kubelet on containerd at
# /run/containerd/containerd.sock, CNI bridge cni0 with pods in 10.244.0.0/16.
# The components are built once (test/cluster/build.sh --node) and cached next
# to the API server. node-up is idempotent; its last line is `export
# KUBECONFIG=...`. node-down stops the node (the API server stays: cluster-down).
NODE_DIR ?= /tmp/hive-node
node-up: deps build
	@HIVE_CLUSTER_DIR=$(CLUSTER_DIR) HIVE_NODE_DIR=$(NODE_DIR) $(NODE) operator/dist/testing/node-ctl.js up | tail -n1

node-down:
	@test ! -f operator/dist/testing/node-ctl.js || HIVE_CLUSTER_DIR=$(CLUSTER_DIR) HIVE_NODE_DIR=$(NODE_DIR) $(NODE) operator/dist/testing/node-ctl.js down

# The deployed system on the real node: the image from the Dockerfile, make
# deploy, the demo's events through hive logs, the fault cases.
test-node: deps build
	$(NODE) --test --test-concurrency=1 $(shell find operator/dist -name '*.node.test.js' | sort)

# config/ and the agent against the real API server (the agent test also needs containerd).
test-cluster: deps build
	$(NODE) --test --test-concurrency=1 $(shell find operator/dist -name '*.cluster.test.js' -o -name '*.e2e.test.js' | sort)

# API_SERVER=host:port makes the agents reach the API server there instead of
# through the `kubernetes` Service (KUBERNETES_SERVICE_HOST/PORT, as Cilium's
# k8sServiceHost does): for clusters without kube-proxy, like the real node of
# make node-up, whose API server listens on 127.0.0.1 of the (host-network) node.
# The deploy path (README: "Deploy to a cluster"). docker-build.sh writes the
# pushed image reference to build/image-ref; deploy applies config/ through a
# kustomize overlay that sets that image, then waits for the DaemonSet.
IMAGE       ?= $(shell cat $(BUILD)/image-ref 2>/dev/null)
KUBECTL     ?= kubectl
DEPLOY_WAIT ?= 180s
UNDEPLOY_WAIT ?= true

docker-build:
	./docker-build.sh

# The same Dockerfile with podman, no Docker and no registry: local stand-ins
# for its base images (test/node/base-images.sh), then localhost/hive-agent:<commit>
# in build/image-ref; IMPORT_TO=<containerd socket> imports it there (k8s.io).
.PHONY: image
image:
	@$(call apt_install,$(APT_IMAGE_PKGS))
	bash test/node/base-images.sh
	./docker-build.sh --builder podman $(if $(IMPORT_TO),--import-to $(IMPORT_TO))

deploy-overlay:
	@test -n "$(IMAGE)" || { echo "make deploy: no image: run 'make docker-build' first, or give IMAGE=registry/name:tag" >&2; exit 2; }
	@ref='$(IMAGE)'; case "$${ref##*/}" in *:*) ;; *) echo "make deploy: IMAGE '$(IMAGE)' has no tag; give name:tag" >&2; exit 2;; esac
	@mkdir -p $(BUILD)/deploy
	@ref='$(IMAGE)'; name=$${ref%:*}; tag=$${ref##*:}; \
	printf '%s\n' '# Written by make deploy: config/ with the image of make docker-build.' \
	  'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
	  'resources:' '  - ../../config' 'images:' '  - name: hive-agent' \
	  "    newName: $$name" "    newTag: \"$$tag\"" > $(BUILD)/deploy/kustomization.yaml
	@api='$(API_SERVER)'; if [ -n "$$api" ]; then \
	  case "$$api" in *:*) ;; *) echo "make deploy: API_SERVER '$$api' is not host:port" >&2; exit 2;; esac; \
	  host=$${api%:*}; port=$${api##*:}; \
	  printf '%s\n' 'patches:' '  - target: {kind: DaemonSet, name: hive-agent}' '    patch: |-' \
	    '      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: KUBERNETES_SERVICE_HOST, value: "'"$$host"'"}}' \
	    '      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: KUBERNETES_SERVICE_PORT, value: "'"$$port"'"}}' \
	    >> $(BUILD)/deploy/kustomization.yaml; fi

deploy: deploy-overlay
	$(KUBECTL) apply --server-side --field-manager=hive-deploy -k $(BUILD)/deploy
	@if [ "$(DEPLOY_WAIT)" != 0 ]; then \
	  $(KUBECTL) -n hive-system rollout status daemonset/hive-agent --timeout=$(DEPLOY_WAIT); fi
	@echo "hive deployed with $(IMAGE). Follow the agents:"
	@echo "  kubectl logs -n hive-system -l app.kubernetes.io/name=hive -f"
	@echo "  node operator/dist/cli/hive.js logs -f        # the events, rendered like hive trace --pretty"

undeploy: deploy-overlay
	$(KUBECTL) delete --ignore-not-found --wait=$(UNDEPLOY_WAIT) -k $(BUILD)/deploy
