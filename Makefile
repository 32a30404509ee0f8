# Two commands do everything on a fresh Debian machine:
#   make run    install what is missing, build, start one member with etcd's defaults
#   make test   unit, integration, differential and crash tests
SHELL := /bin/bash
SWIFT ?= swift
REFERENCE_DIR := .build/reference
REFERENCE_ETCD := $(REFERENCE_DIR)/usr/bin/etcd
SEEDS ?= 1000
# Seconds the test run may take once built; a hang past it fails the run and names the test.
TEST_LIMIT ?= 1500

.PHONY: all deps test-deps go-tools build run test reference conformance bench simulate clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	$(SWIFT) build -c release --product etcd

# One member with etcd's defaults: name "default", data dir default.etcd, client
# http://localhost:2379, peer http://localhost:2380. Extra flags: make run ARGS="--logger=zap".
run: build
	.build/release/etcd $(ARGS)

reference:
	@scripts/fetch-reference-etcd.sh $(REFERENCE_DIR) >/dev/null

# Everything the tests and the benchmark need, in one install.
test-deps:
	@scripts/install-deps.sh build test go

# The Go-client tools (bench/ and the integration tests' rawproto), built once for both.
GO_TOOLS := .build/go-tools
go-tools: test-deps
	scripts/build-go-tools.sh $(GO_TOOLS) >/dev/null

# The integration tests start .build/debug/etcd (built with the tests) and drive it with the
# stock etcdctl; the differential tests also start the reference etcd; the load tests run the
# release build under the Go client.
test: test-deps reference go-tools build
	$(SWIFT) build --build-tests
	ETCD_BINARY=$(CURDIR)/.build/debug/etcd REFERENCE_ETCD=$(CURDIR)/$(REFERENCE_ETCD) \
		ETCD_RELEASE_BINARY=$(CURDIR)/.build/release/etcd GO_TOOLS=$(CURDIR)/$(GO_TOOLS) \
		SWIFT=$(SWIFT) scripts/run-tests.sh $(TEST_LIMIT)

# etcd 3.4's own end-to-end suite against our server and the stock etcdctl (long; not in CI).
conformance: build
	scripts/conformance.sh $(CURDIR)/.build/release/etcd $(CURDIR)/conformance-results

# Side-by-side throughput of the reference etcd and ours, reported as ratios.
bench: test-deps reference go-tools build
	BENCH_DIR=$(CURDIR)/bench-results GO_TOOLS=$(CURDIR)/$(GO_TOOLS) \
		scripts/bench.sh $(CURDIR)/.build/release/etcd $(CURDIR)/$(REFERENCE_ETCD)

# The Raft core under the deterministic simulator: SEEDS seeds, each with 3 and with 5 members,
# all faults on. A failing seed is printed with the command that reproduces it.
simulate:
	$(SWIFT) build -c release --product raft-simulator
	.build/release/raft-simulator --seeds $(SEEDS) --members both

clean:
	rm -rf .build conformance-results bench-results
