# Hero Tasks API. `make run` and `make test` work on a fresh Debian machine:
# they bring up a private PostgreSQL and Redis under .data/ when
# DATABASE_URL / REDIS_URL are not set (scripts/services.sh).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
BIN := bin/herotasks
SEED_TASKS ?= 2000
GO ?= go

.PHONY: all build run test fuzz bench bench-go bench-peers generate check-generated vet services services-down clean \
	playground browser npm-tools codegen-check schema-diff schema-release

all: build

build:
	$(GO) build -o $(BIN) .

services:
	@scripts/services.sh up >/dev/null

services-down:
	@scripts/services.sh down

## run: migrate, seed an empty database with demo data, serve on :8080 with the Playground at /
run: build services
	. ./.data/env && $(BIN) migrate up && $(BIN) seed --if-empty --tasks $(SEED_TASKS) && exec $(BIN) serve

## generate: regenerate graph/ from schema.graphqls
generate:
	$(GO) generate ./...

## check-generated: fail when the committed graph/ differs from what the generator makes
check-generated:
	@tmp=$$(mktemp -d); cp -r graph "$$tmp/"; \
	$(GO) run github.com/99designs/gqlgen generate && $(GO) run ./cmd/serialpatch graph/generated.go; \
	if ! diff -r "$$tmp/graph" graph >/dev/null; then \
		diff -ru "$$tmp/graph" graph | head -40; rm -rf "$$tmp"; \
		echo "graph/ is stale: run 'make generate' and commit the result" >&2; exit 1; \
	fi; rm -rf "$$tmp"

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null)" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1; }
	$(GO) vet ./...

## test: the whole suite against a private PostgreSQL and Redis (with Chromium
## and the npm schema tools installed first: the Playground and codegen tests)
test: check-generated vet browser npm-tools
	@HT_PG_FAST=1 scripts/services.sh up >/dev/null
	@scripts/graphql-http-audit.sh install # npm packages for TestGraphQLOverHTTPAudit, in a cache folder
	. ./.data/env && $(GO) test -race -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz

## fuzz: explore each fuzz target for FUZZTIME beyond its seeds (make test:
## 50,000 inputs each; go test -fuzz takes one package and one target per
## run). A count, not a duration: Go 1.26's coordinator can report "context
## deadline exceeded" as a failure when a -fuzztime duration ends while a
## worker is mid-input (go.dev/issue/75804, fixed in Go 1.27). A failing
## input is saved under the package's testdata/fuzz/ as a new seed.
FUZZTIME ?= 50000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzNegotiate$$' -fuzztime $(FUZZTIME) ./httpspec
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./httpspec
	$(GO) test -run '^$$' -fuzz '^FuzzRules$$' -fuzztime $(FUZZTIME) ./limits
	$(GO) test -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime $(FUZZTIME) ./cost
	$(GO) test -run '^$$' -fuzz '^FuzzActual$$' -fuzztime $(FUZZTIME) ./cost

## bench: the load scenarios (cmd/herobench) against the real server binary
## on a seeded herotasks_bench database; a table, and JSON in bench/out/.
## BENCH_DURATION=2s for a quick run; BENCH_ARGS for more flags (-only, -clients).
BENCH_DURATION ?= 10s
BENCH_CLIENTS ?= 16
BENCH_ARGS ?=
bench: build services
	$(GO) build -o bin/herobench ./cmd/herobench
	. ./.data/env && bin/herobench -bin $(BIN) -duration $(BENCH_DURATION) -clients $(BENCH_CLIENTS) $(BENCH_ARGS)

## bench-peers: the nested, by-id and detail work against PostGraphile 5 too (pinned,
## installed with Node.js 22 into a cache folder), one server at a time, in
## PEERS_ROUNDS rounds (each scenario reported by its median round); ratios
PEERS_ROUNDS ?= 3
bench-peers: build services
	$(GO) build -o bin/herobench ./cmd/herobench
	@dir=$$(scripts/postgraphile.sh); . ./.data/env && \
	bin/herobench -peers -postgraphile "$$dir" -bin $(BIN) -duration $(BENCH_DURATION) -clients $(BENCH_CLIENTS) \
		-rounds $(PEERS_ROUNDS) $(BENCH_ARGS)

## bench-go: the `go test -bench` benchmarks (in-process servers; see bench/)
bench-go: services
	. ./.data/env && $(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

## playground: rebuild the embedded GraphiQL bundle (playground/dist) from
## playground/web; commit the result. Tests never rebuild it.
playground:
	scripts/npm-tools.sh playground

## browser: Debian's chromium for the Playground's browser test (apt-get when root)
browser:
	@scripts/npm-tools.sh chromium

## npm-tools: GraphQL Code Generator and graphql-inspector, pinned, in a cache folder
npm-tools:
	@scripts/npm-tools.sh bin >/dev/null

## codegen-check: GraphQL Code Generator against a live server and examples/*.graphql
codegen-check: npm-tools
	@HT_PG_FAST=1 scripts/services.sh up >/dev/null
	. ./.data/env && $(GO) test -count=1 -run '^TestCodegen' ./graph

## schema-diff: breaking changes since the released schema (schema/released.graphqls)
schema-diff:
	scripts/npm-tools.sh schema-diff

## schema-release: record schema.graphqls as released (do it when you tag a release)
schema-release:
	cp schema.graphqls schema/released.graphqls

clean:
	rm -rf bin
