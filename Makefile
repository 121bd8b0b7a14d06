# mtreplica: make demo (see it work), make test (run every test).
GO      ?= go
PKGS    := ./...
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build test test-short demo lint deps fuzz clean

all: build

build:
	$(GO) build -o bin/mtreplica ./cmd/mtreplica

deps:
	@./scripts/deps.sh

# Every test, against real MariaDB servers the tests start themselves.
test: deps
	MTREPLICA_REQUIRE_MARIADB=1 $(GO) test $(TESTFLAGS) -race $(PKGS)

# Unit tests only (no servers).
test-short:
	$(GO) test -short -count=1 $(PKGS)

# A local source and target, a sysbench workload, replication, verification.
demo: deps build
	./bin/mtreplica demo

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet $(PKGS)

fuzz:
	$(GO) test -run=^$$ -fuzz=FuzzReader -fuzztime=60s ./relaylog/

clean:
	rm -rf bin
