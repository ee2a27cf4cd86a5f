# guichet — the two commands of the README, and a few more.
#   make run   installs what is missing, builds, runs the daemon on the built-in default
#   make test  installs what is missing, checks format and lints, runs every test
#   make bench prints the form reader's figures beside the generic pipeline

CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run test deps test-deps build lint bench fmt clean

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: deps
	$(CARGO) build --release

run: build
	./target/release/guichet run

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

test: test-deps lint
	$(CARGO) test --all-targets

bench: test-deps
	$(CARGO) bench --bench reader

fmt:
	$(CARGO) fmt
