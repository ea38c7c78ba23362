# The two commands a fresh machine needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
PKGS := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: run
run: ## run the server (private PostgreSQL under .data/ when DATABASE_URL is unset)
	LICENSING_LOG_FORMAT=$${LICENSING_LOG_FORMAT:-text} $(GO) run ./cmd/licensingd serve

.PHONY: deps
deps: ## install the OS packages the tests need (apt, as root) or say how
	@./.ci/deps

.PHONY: test
test: deps ## run every test against a real PostgreSQL (installs what is missing)
	$(GO) test -count=1 -timeout 20m $(PKGS)

.PHONY: bench
bench: ## measure the service against its database's ceiling (quick mode, a few minutes; BENCH_MODE=full for the long run)
	$(GO) run ./cmd/bench -mode $${BENCH_MODE:-quick}

.PHONY: bench-full
bench-full: ## the long benchmark run (30-second points, more client counts)
	$(GO) run ./cmd/bench -mode full

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## run every go test -fuzz target for FUZZTIME (30s) each; make test runs their seed corpora
	@set -e; for f in $$(grep -rl --include='*_test.go' --exclude-dir=.data '^func Fuzz' .); do \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "== $$(dirname $$f) $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
	  done; \
	done

.PHONY: generate
generate: ## regenerate db/ from queries/ and sql/ with sqlc
	$(GO) tool sqlc generate

.PHONY: verify
verify: ## sqlc diff, gofmt, go vet and go mod tidy are clean
	$(GO) tool sqlc diff
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff

.PHONY: lint
lint: verify ## verify plus sqlc vet and staticcheck
	$(GO) tool sqlc vet
	$(GO) tool staticcheck $(PKGS)

.PHONY: build
build: ## build licensingd and the other commands into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/...
