# palyra-go — see README.md.
GO      ?= go
PKGS    := ./...
# Packages with concurrency that matters run again under the race detector.
RACE_PKGS := ./internal/trust/... ./internal/journal/... ./internal/egress/... ./internal/secrets/... ./internal/runtime ./host/... ./internal/transport ./internal/daemon ./internal/mcpserver
FUZZTIME ?= 30s
# The TypeScript MCP SDK's client, for the interop test of palyra mcp
# (host/cmd/palyra/mcp_ts_test.go); npm ci installs it from its lockfile.
TS_CLIENT := host/cmd/palyra/testdata/mcp-ts-client

.PHONY: all build test race demo demo-remote bench bench-cli fuzz lint docs clean

all: build

build:
	$(GO) build $(PKGS)
	$(GO) build -o bin/ ./gen/cmd/palyra-gen ./host/cmd/palyra

# mod download all first: the scaffold tests run go mod tidy offline in
# the new skill, and tidy loads the tests of every dependency too (go-cmp
# for x/tools', testify for cyclonedx-go's…), so it needs every module of
# the graph, not only those the build uses.
# internal/fueloracle is a nested module (cgo, wasmtime-go: needs gcc) that
# checks the runtime's fuel against wasmtime's; ./... does not reach it.
test: $(TS_CLIENT)/node_modules/.package-lock.json
	$(GO) mod download all
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)
	$(GO) test -count=1 -race $(RACE_PKGS)
	cd internal/fueloracle && $(GO) vet ./... && $(GO) test -count=1 ./...

$(TS_CLIENT)/node_modules/.package-lock.json: $(TS_CLIENT)/package-lock.json
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund

demo:
	bash scripts/demo.sh

# Remote calls on one machine: palyra daemon, pairing, palyra --remote.
demo-remote:
	bash scripts/demo-remote.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 $(PKGS)

# Whole-process wall time of palyra skills verify against cosign
# verify-blob --key (installed with go install when absent; see the script).
bench-cli:
	bash scripts/bench-cli.sh

# Each fuzz target runs for FUZZTIME (go test -fuzz takes one target at a time).
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^templates/')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) tool staticcheck $(PKGS)

# Regenerate the CLI references docs/cli/palyra.md and docs/cli/palyra-gen.md
# from the cobra command trees (TestCLIReference fails while they are stale).
docs:
	PALYRA_UPDATE_DOCS=1 $(GO) test -count=1 -run '^TestCLIReference$$' ./host/cmd/palyra ./gen/cmd/palyra-gen

clean:
	rm -rf bin
