# nsqkit — build, run and test everything with the Go toolchain alone.
GO       ?= go
BIN      := bin
CMDS     := $(notdir $(wildcard cmd/*))
DATA     ?= ./data
FUZZTIME ?= 60s

.PHONY: all build run test test-race fuzz lint bench clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# A local nsqd with its defaults, data under ./data; Ctrl-C stops it cleanly.
run: build
	@mkdir -p $(DATA)
	./$(BIN)/nsqd --data-path=$(DATA)

# Everything CI runs: vet, the unit and end-to-end tests (race detector on
# the concurrent core), and every fuzz target's seed corpus.
test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -count=1 -race -timeout 15m ./core/wire/... ./core/nsqd/... ./core/diskqueue/...

test-race:
	$(GO) test -count=1 -race -timeout 15m ./...

# Run each fuzz target for FUZZTIME (default 60s).
fuzz:
	@for t in $$($(GO) test ./core/wire -list '^Fuzz' | grep ^Fuzz); do \
		echo "== $$t"; $(GO) test ./core/wire -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./core/wire/ ./core/nsqd/

clean:
	rm -rf $(BIN)
