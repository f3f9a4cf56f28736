# spamgeo — the commands a developer and CI use. `make demo` and `make test` work on a fresh
# machine: the local servers, Go modules and GeoIP data are installed by the scripts they call.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
BIN := bin/spamgeo
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# A count, not a duration: go1.26's fuzz coordinator can fail a clean run with "context deadline
# exceeded" when a -fuzztime duration ends mid-execution (golang/go#75804, fixed in go1.27).
FUZZTIME ?= 100000x
# Fuzz targets run briefly by `make test` and `make fuzz` (package:Target).
FUZZ_TARGETS := ./schemas/event:FuzzDecodeRaw ./schemas/event:FuzzFastPathsAgreeWithEncodingJSON ./schemas/event:FuzzViewMatchesDecode ./producers/synth:FuzzParseProfile ./internal/geoip:FuzzReadRanges ./mail/mailbox:FuzzMbox ./mail/mailparse:FuzzParse ./mail/mailparse:FuzzParseReceived ./producers/trap:FuzzProxyHeader ./producers/trap:FuzzArchiveRoundTrip ./mail/keys:FuzzSubjectTemplate ./mail/keys:FuzzBodyHasher

VENV := .local/venv

.PHONY: build demo test unit modern deploy-check kafka39 fuzz lint bench soak servers stop status clean docs

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/spamgeo

## docs: regenerate docs/configuration.md from the code (a test fails when it is stale).
docs:
	$(GO) run ./cmd/spamgeo config-reference > docs/configuration.md

## demo: start the local servers, build, and run the main job end to end (see README).
demo: build
	deploy/demo.sh

## test: lint, then unit and integration tests (race detector on) against the real local
## servers, the modern-engine lane, the Kafka 3.9 lane, then short fuzz runs.
test: lint servers $(VENV)/.installed
	SPAMGEO_INTEGRATION=1 SPAMGEO_PYTHON=$(CURDIR)/$(VENV)/bin/python $(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory modern deploy-check kafka39 fuzz

## modern: the same DDL and queries in ClickHouse 26.x (chdb, in-process); see tests/modern.
## The venv also serves the Go tests: pyarrow reads export files, nbclient runs notebooks/.
modern: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q tests/modern

## deploy-check: deploy/compose, deploy/kubernetes and the Dockerfile checked without a container
## engine or a cluster, by deploy/validate (a module of its own, so its libraries stay out of go.mod).
deploy-check: $(VENV)/.installed
	deploy/promtool.sh install
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts_test.yml
	cd deploy/validate && $(GO) vet ./... && $$(cd ../.. && $(GO) tool -n staticcheck) ./...
	cd deploy/validate && SPAMGEO_PYTHON=$(CURDIR)/$(VENV)/bin/python $(GO) test -count=1 ./...

## kafka39: the Kafka-facing integration tests against the older broker line, Kafka 3.9, on a
## broker of their own (state in $(KAFKA39_LOCAL), port 29092) that is stopped afterwards.
KAFKA39_LOCAL ?= $(CURDIR)/.local/kafka39
KAFKA39 := SPAMGEO_LOCAL=$(KAFKA39_LOCAL) KAFKA_VERSION=3.9 KAFKA_PORT=29092 KAFKA_CONTROLLER_PORT=29093 KAFKA_HEAP=384m
kafka39:
	$(KAFKA39) deploy/kafka.sh start
	status=0; SPAMGEO_INTEGRATION=1 SPAMGEO_TEST_KAFKA=127.0.0.1:29092 $(GO) test -count=1 \
	  ./internal/kafka/... ./consumers/... || status=$$?; \
	  $(KAFKA39) deploy/kafka.sh stop; exit $$status

$(VENV)/.installed: tests/modern/requirements.txt notebooks/requirements.txt deploy/validate/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(addprefix -r ,$^)
	touch $@

## unit: the tests that need no server.
unit:
	$(GO) test -count=1 ./...

fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t#*:} ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

## lint: gofmt, vet, staticcheck, and the import rules between layers (docs/architecture.md).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -count=1 ./tests/layers

## bench: Go benchmarks of each stage (five runs each) and against peers (bench/peers/: ClickHouse's own
## Kafka engine, latency at 10,000 events/s, franz-go, each role's peak resident memory as a child
## process; three runs each); results in bench/results.txt, in the format benchstat reads (see BENCHMARKS.md).
bench: servers
	deploy/geoip.sh fetch
	mkdir -p bench
	SPAMGEO_INTEGRATION=1 $(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 20m $$($(GO) list ./... | grep -v /peers) | tee bench/results.txt
	SPAMGEO_INTEGRATION=1 $(GO) test -run '^$$' -bench . -benchtime 1x -count 3 -timeout 20m ./bench/peers | tee -a bench/results.txt

servers:
	deploy/clickhouse.sh start
	deploy/kafka.sh start
	deploy/smtp-tools.sh install
	deploy/chromium.sh install

stop:
	deploy/kafka.sh stop
	deploy/clickhouse.sh stop

status:
	-deploy/clickhouse.sh status
	-deploy/kafka.sh status

clean: stop
	rm -rf bin .local

## soak: the chaos test of the delivery guarantee at full size: 10,000,000 events, 52 kills (ClickHouse
## six times with kill -9, then verify and repair); make test runs it with 300,000 events and 14 kills.
soak: servers
	SPAMGEO_INTEGRATION=1 SPAMGEO_CHAOS_EVENTS=10000000 SPAMGEO_CHAOS_TRAP_MESSAGES=100000 SPAMGEO_CHAOS_ENRICH_KILLS=15 SPAMGEO_CHAOS_SINK_KILLS=20 SPAMGEO_CHAOS_TRAP_KILLS=10 SPAMGEO_CHAOS_CLICKHOUSE_KILLS=6 $(GO) test -count=1 -v -timeout 150m -run Chaos ./tests/e2e
