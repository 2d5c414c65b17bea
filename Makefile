# nsqkit — build, run and test everything with the Go toolchain alone.
GO       ?= go
BIN      := bin
DATA     ?= ./data
FUZZTIME ?= 60s

.PHONY: all build run demo test test-long test-race fuzz lint bench bench-go clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# A local cluster with defaults (nsqlookupd + one nsqd registered with it),
# data under ./data; Ctrl-C stops both cleanly.
run: build
	$(GO) run ./core/internal/devcluster --bin ./$(BIN) --data $(DATA)

# Two nsqd and a lookupd with synthetic traffic (producers, consumers of
# several speeds, a paused channel), and nsqtop on them; quitting nsqtop
# stops everything. Daemon logs: $(DATA)/demo/demo.log.
demo: build
	$(GO) run ./core/internal/devcluster --demo --bin ./$(BIN) --data $(DATA)/demo

# Everything CI runs: vet, the core's unit tests under the race detector
# (fuzz targets run their seed corpus), then the CLI and end-to-end tests
# against the built binaries, then every Go benchmark once (a smoke test:
# nothing is timed).
test: build
	$(GO) vet ./...
	$(GO) test -count=1 -race -timeout 15m $$($(GO) list ./core/... | grep -v /core/internal/e2e)
	$(GO) test -count=1 -timeout 15m ./cmd/... ./core/internal/e2e/...
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./core/wire/ ./core/nsqd/ ./core/pipe/ ./core/top/cluster/

# The long, heavy or privileged tests as well (durability under load,
# faults, load, namespaces): each skips with a message in `make test`.
test-long: build
	NSQKIT_LONG=1 $(GO) test -count=1 -timeout 60m ./...

test-race:
	$(GO) test -count=1 -race -timeout 15m ./...

# Run every fuzz target of the repository (each package whose tests
# declare a func FuzzXxx) for FUZZTIME each (default 60s), one after the
# other; a crash stops it (the crasher is in that package's
# testdata/fuzz/FuzzXxx/). Go 1.26's fuzz coordinator can end a run with
# "context deadline exceeded" and no crasher when the machine is loaded
# (golang/go#75804): that is reported and the next target runs.
fuzz:
	@pkgs=$$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); \
	test -n "$$pkgs" || { echo "fuzz: no fuzz targets found"; exit 1; }; \
	log=$$(mktemp); trap 'rm -f $$log $$log.rc' EXIT; \
	for p in $$pkgs; do \
		for t in $$($(GO) test $$p -list '^Fuzz' | grep ^Fuzz); do \
			echo "== $$p $$t"; \
			{ $(GO) test $$p -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -timeout 0 -parallel 1 2>&1; echo $$? > $$log.rc; } | tee $$log; \
			if [ "$$(cat $$log.rc)" != 0 ]; then \
				if grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
					echo "== $$p $$t: stopped by Go's fuzz coordinator at the deadline, no crasher (golang/go#75804)"; \
				else exit 1; fi; \
			fi; \
		done; \
	done

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...

# Compare our nsqd with another nsqd binary on the performance scenarios
# (core/internal/benchrun): a fresh nsqd per run, RUNS rounds alternating
# ours/peer, then medians, ours/peer and which targets hold.
# NSQD_PEER=/path/to/nsqd (e.g. NSQ 1.3.0's, built outside this
# repository) to compare; without it, our figures only. About 3 minutes
# with a peer, 1.5 without.
NSQD_PEER ?=
RUNS      ?= 3
bench: build
	$(GO) run ./core/internal/benchrun --bin ./$(BIN) --runs $(RUNS) $(if $(NSQD_PEER),--peer $(NSQD_PEER))

# The Go micro-benchmarks (wire codec, nsqd hot paths).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./core/wire/ ./core/nsqd/

clean:
	rm -rf $(BIN)
