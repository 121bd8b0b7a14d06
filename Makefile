# mtreplica: make demo (see it work), make test (run every test).
GO      ?= go
PKGS    := ./...
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build test test-short demo lint deps fuzz clean bench bench-quick huge-txn

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

# mtreplica against MariaDB's own replica (bench/README.md); results in bench-results/.
# bench-quick: under 3 minutes; bench: the full matrix, two to three hours on 2 cores.
bench-quick: deps
	$(GO) run ./bench --quick --json bench-results/quick.json

bench: deps
	$(GO) run ./bench $(BENCHFLAGS)

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet $(PKGS)

# One 1 GiB transaction through the daemon; prints its peak RSS (must stay under 256 MiB). Minutes of disk writes.
huge-txn: deps
	MTREPLICA_HUGE_TXN_MB=$${MTREPLICA_HUGE_TXN_MB:-1024} $(GO) test -run '^TestHugeTransactionRSS$$' -count=1 -v -timeout 60m .

fuzz:
	$(GO) test -run=^$$ -fuzz=FuzzReader -fuzztime=60s ./relaylog/

clean:
	rm -rf bin
