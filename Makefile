# hive — build, run and test. `make run` and `make test` install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := build

NODE      ?= node
# Node's headers ship with Node itself; node-gyp must not try to download them.
NODEDIR   := $(shell $(NODE) -p "require('path').resolve(process.execPath, '../..')")
BUILD     := build
BPF_OBJS  := $(BUILD)/bpf/fileaccess.bpf.o
ADDON     := operator/native/build/Release/hive_native.node
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CLANG     ?= clang
BPF_CFLAGS := -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ibpf/include

# Debian packages the build and the tests need (make deps installs the missing ones).
APT_PKGS  := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make g++ python3 \
             iproute2 util-linux
TEST_FILES = $(shell find operator/dist -name '*.test.js' | sort)

.PHONY: deps deps-apt deps-npm build bpf addon ts run test test-unit test-bpf bench clean \
        cluster-up cluster-down test-kernels manifests deploy undeploy docker-build

deps: deps-apt deps-npm

deps-apt:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# npm ci only when the lock file changed since the last install.
deps-npm: node_modules/.hive-installed
node_modules/.hive-installed: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

build: deps $(BPF_OBJS) $(ADDON) ts

bpf: $(BPF_OBJS)

$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	@test -r /sys/kernel/btf/vmlinux || { echo "build: /sys/kernel/btf/vmlinux missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y" >&2; exit 1; }
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/include/*.h $(BUILD)/vmlinux.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

addon: $(ADDON)
$(ADDON): operator/native/binding.gyp operator/native/src/*.cc operator/native/src/*.h node_modules/.hive-installed
	cd operator/native && ../../node_modules/.bin/node-gyp rebuild --nodedir=$(NODEDIR) --jobs=2 --loglevel=error >/dev/null
	@test -f $@

ts: node_modules/.hive-installed
	node_modules/.bin/tsc -p tsconfig.json

# Builds, then audits a default set of sensitive host paths (config/trace/default-paths.txt).
run: build
	$(NODE) operator/dist/cli/main.js trace --pretty --skip-missing $$(grep -v '^\s*#' config/trace/default-paths.txt)

test: build
	$(NODE) --test --test-concurrency=1 $(TEST_FILES)

# Pure units only: no root, no kernel.
test-unit: build
	HIVE_TEST_UNIT_ONLY=1 $(NODE) --test $(TEST_FILES)

# The real-kernel tests on this machine (root).
test-bpf: build
	$(NODE) --test --test-concurrency=1 $(shell find operator/dist -name '*.kernel.test.js' | sort)

bench: build $(BUILD)/openloop
	$(NODE) operator/dist/bench/main.js

$(BUILD)/openloop: test/bench/openloop.c
	@mkdir -p $(BUILD)
	$(CC) -O2 -Wall -o $@ $<

clean:
	rm -rf $(BUILD) operator/dist operator/native/build

cluster-up cluster-down test-kernels manifests deploy undeploy docker-build:
	@echo "make $@: not built yet (see the open issues: 'issues list')" >&2; exit 1
