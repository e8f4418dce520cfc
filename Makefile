# bridge: Kafka case-state events → Vietnamese messages → Zalo OA.
# `make help` lists the targets. `make run` and `make test` set everything up on a fresh machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Each pytest run gets its own temporary root, so parallel runs never share a broker's data dir.
PYTEST_BASETEMP := $(CURDIR)/.cache/pytest

.PHONY: help  ## Show the targets
help:
	@grep -E '^.PHONY: [a-zA-Z_-]+ +## .*$$' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ".PHONY: |  ## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$2, $$3}'

# ------------------------------------------------------------------ setup

.PHONY: .python  # Python ≥ 3.11 with venv
.python:
	@$(PYTHON) -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "bridge needs Python ≥ 3.11 with the venv module (Debian: apt-get install python3 python3-venv)"; exit 1; }

.PHONY: .java  # Java ≥ 17 and Maven, for the local Kafka broker; installed from Debian's packages when missing
.java:
	@if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Java and Maven from Debian's packages…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless maven >/dev/null; \
	  else echo "the local Kafka broker needs Java ≥ 17 and Maven (Debian: apt-get install default-jre-headless maven)"; exit 1; fi; \
	fi

.PHONY: .postgres  # PostgreSQL server binaries, for the tests' local server; installed from Debian's packages when missing
.postgres:
	@if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && ! [ -x "$${PG_BIN:-/nonexistent}/initdb" ] && ! command -v initdb >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing PostgreSQL from Debian's packages…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	  else echo "the tests' local PostgreSQL server needs its binaries (Debian: apt-get install postgresql, or set PG_BIN)"; exit 1; fi; \
	fi

.PHONY: .faketime  # libfaketime, for the runs of the tests under another wall clock; installed from Debian's packages when missing
.faketime:
	@if ! compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null && ! compgen -G '/usr/lib/faketime/libfaketime.so.1' >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libfaketime from Debian's packages…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends faketime >/dev/null; \
	  else echo "the clock runs need libfaketime (Debian: apt-get install faketime)"; exit 1; fi; \
	fi

.PHONY: .chromium  # Chromium, for the template preview's browser test; installed from Debian's packages when missing
.chromium:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Chromium from Debian's packages…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "the preview's browser test needs Chromium (Debian: apt-get install chromium)"; exit 1; fi; \
	fi

$(INSTALLED): pyproject.toml devkit/pyproject.toml constraints.txt | .python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable ./devkit --editable '.[dev]'
	@touch $@

.PHONY: install  ## Create .venv and install bridge, its dev kit and the dev tools (pinned by constraints.txt)
install: $(INSTALLED)

.PHONY: kafka-jars  ## Fetch the Kafka broker jars with Maven into the user cache (outside git)
kafka-jars: $(INSTALLED) .java
	$(BIN)/bridge-kafka jars

.PHONY: lock  ## Refresh constraints.txt from a clean resolution of pyproject.toml
lock: .python
	rm -rf .cache/lock && $(PYTHON) -m venv .cache/lock
	.cache/lock/bin/pip install --quiet --upgrade pip
	.cache/lock/bin/pip install --quiet './devkit[plot]' '.[dev]'
	.cache/lock/bin/pip freeze --exclude zalo-bridge --exclude zalo-bridge-devkit > constraints.txt
	rm -rf .cache/lock

# ------------------------------------------------------------------ the two commands

.PHONY: run  ## Start a local broker, the Zalo OA emulator and bridge; publish sample events; show what citizens got
run: $(INSTALLED) kafka-jars
	$(BIN)/python -m bridge_devkit.demo --workdir .run

.PHONY: test  ## Lint, type-check and run every test (starts and stops a local Kafka broker, PostgreSQL and SeaweedFS)
test: lint typecheck test-all

# ------------------------------------------------------------------ checks

.PHONY: lint  ## ruff check, ruff format --check, and the import contracts of src/bridge (import-linter)
lint: $(INSTALLED)
	$(BIN)/ruff check src devkit tests tools
	$(BIN)/ruff format --check src devkit tests tools
	$(BIN)/lint-imports

.PHONY: typecheck  ## mypy --strict on src/ and the dev kit
typecheck: $(INSTALLED)
	$(BIN)/mypy

.PHONY: schemas  ## Regenerate schemas/ and docs/asyncapi.yaml from the models
schemas: $(INSTALLED)
	$(BIN)/zalo-bridge schemas export schemas
	$(BIN)/zalo-bridge schemas asyncapi docs/asyncapi.yaml

.PHONY: asyncapi  ## Regenerate docs/asyncapi.yaml, the AsyncAPI document of every Kafka topic
asyncapi: $(INSTALLED)
	$(BIN)/zalo-bridge schemas asyncapi docs/asyncapi.yaml

.PHONY: test-unit  ## Fast tests that need no broker and no database server
test-unit: $(INSTALLED)
	@mkdir -p $(dir $(PYTEST_BASETEMP))
	$(BIN)/pytest -m "not kafka and not postgres and not s3 and not browser" --basetemp=$(PYTEST_BASETEMP)

.PHONY: fuzz  ## The hostile-input property tests (Hypothesis) with many more examples than make test
fuzz: $(INSTALLED)
	@mkdir -p $(dir $(PYTEST_BASETEMP))
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m fuzz --basetemp=$(PYTEST_BASETEMP) --hypothesis-show-statistics

.PHONY: test-all  ## Every test; starts a local Kafka broker and PostgreSQL server (or uses KAFKA_BOOTSTRAP_SERVERS, BRIDGE_TEST_POSTGRES_DSN)
test-all: $(INSTALLED) kafka-jars .postgres chart-tools .chromium .faketime
	@mkdir -p $(dir $(PYTEST_BASETEMP))
	HELM=$(HELM) KUBERNETES_VALIDATE=$(KUBE_VALIDATE) PROMTOOL=$(PROMTOOL) $(BIN)/pytest --basetemp=$(PYTEST_BASETEMP) --durations=10

.PHONY: test-clocks  ## Kafka integration tests twice, every process's clock shifted (libfaketime): 23:30 and 12:00 in Vietnam
test-clocks: $(INSTALLED) kafka-jars .postgres .faketime
	$(BIN)/python -m bridge_devkit.clock_runs --workdir $(CURDIR)/.cache/clock-runs --report $(CURDIR)/.cache/clock-runs/report.md -- tests -m kafka -q --ignore=tests/test_any_hour.py $(foreach d,bench chaos deploy devkit e2e emulator,--ignore=tests/$(d))

# ------------------------------------------------------------------ deployment (Dockerfile, Helm chart)

# Tools for the chart checks, cached outside git and shared by every clone of the user.
TOOLS_DIR ?= $(HOME)/.cache/zalo-bridge/tools
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
HELM_VERSION := v3.22.0
# What helm's release build stamps in: its version, and the Kubernetes version (of its client-go
# modules) that `helm template` and `helm lint` assume.
HELM_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
  $(foreach pkg,pkg/chartutil pkg/lint/rules,-X helm.sh/helm/v3/$(pkg).k8sVersionMajor=1 -X helm.sh/helm/v3/$(pkg).k8sVersionMinor=37)
HELM := $(TOOLS_DIR)/helm-$(HELM_VERSION)/helm
# Kubernetes JSON schemas (1.25-1.37) from PyPI, validated offline.
KUBE_VALIDATE_VERSION := 1.37.0
KUBE_VALIDATE := $(TOOLS_DIR)/kubernetes-validate-$(KUBE_VALIDATE_VERSION)/bin/kubernetes-validate

# Go is needed only to build helm, once.
$(HELM):
	@$(GO) version >/dev/null 2>&1 || { echo "installing helm needs Go ≥ 1.21 (set GO=/path/to/go)"; exit 1; }
	GOBIN=$(dir $@) GOFLAGS=-trimpath CGO_ENABLED=0 $(GO) install -ldflags '$(HELM_LDFLAGS)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# promtool checks and unit-tests the chart's alert rules. The Go module proxy has Prometheus 3.x as
# module versions v0.3XX.Y; remove_all_sd leaves out the service discoveries promtool's rule
# checks never use (cold build: ~2 min and ~1.8 GB of Go caches instead of ~4.5 min and ~3.5 GB).
PROMETHEUS_VERSION := 3.16.0
PROMETHEUS_MODULE := v0.316.0
PROMTOOL := $(TOOLS_DIR)/promtool-v$(PROMETHEUS_VERSION)/promtool

$(PROMTOOL):
	@$(GO) version >/dev/null 2>&1 || { echo "installing promtool needs Go ≥ 1.26 (set GO=/path/to/go)"; exit 1; }
	GOBIN=$(dir $@) GOFLAGS=-trimpath CGO_ENABLED=0 $(GO) install -tags remove_all_sd \
	  -ldflags '-s -w -X github.com/prometheus/common/version.Version=$(PROMETHEUS_VERSION)' \
	  github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_MODULE)

$(KUBE_VALIDATE): | .python
	rm -rf $(TOOLS_DIR)/kubernetes-validate-$(KUBE_VALIDATE_VERSION)
	$(PYTHON) -m venv $(TOOLS_DIR)/kubernetes-validate-$(KUBE_VALIDATE_VERSION)
	$(TOOLS_DIR)/kubernetes-validate-$(KUBE_VALIDATE_VERSION)/bin/pip install --quiet kubernetes-validate==$(KUBE_VALIDATE_VERSION)

.PHONY: chart-tools  ## Install helm and promtool (built with go install) and kubernetes-validate (pip) into ~/.cache/zalo-bridge/tools
chart-tools: $(HELM) $(KUBE_VALIDATE) $(PROMTOOL)

.PHONY: promtool  ## Build the pinned promtool (Prometheus's rule checker) into ~/.cache/zalo-bridge/tools
promtool: $(PROMTOOL)

.PHONY: alerts-check  ## promtool check rules and test rules on the chart's PrometheusRule, and the dashboard's queries
alerts-check: $(INSTALLED) chart-tools
	@mkdir -p $(dir $(PYTEST_BASETEMP))
	HELM=$(HELM) KUBERNETES_VALIDATE=$(KUBE_VALIDATE) PROMTOOL=$(PROMTOOL) $(BIN)/pytest tests/deploy/test_monitoring.py -m "not kafka" --basetemp=$(PYTEST_BASETEMP)

.PHONY: .chart-tool-paths  # Install the chart tools and print where they are (the tests ask)
.chart-tool-paths: chart-tools
	@echo "$(HELM) $(KUBE_VALIDATE) $(PROMTOOL)"

.PHONY: chart-schema  ## Regenerate the config part of the chart's values.schema.json from bridge's Settings, and the README's values table
chart-schema: $(INSTALLED)
	$(BIN)/python deploy/helm/values_schema.py
	$(BIN)/python deploy/helm/values_table.py

.PHONY: chart-check  ## helm lint + template of every province and ci values file, Kubernetes schema validation, chart properties
chart-check: $(INSTALLED) chart-tools
	@mkdir -p $(dir $(PYTEST_BASETEMP))
	HELM=$(HELM) KUBERNETES_VALIDATE=$(KUBE_VALIDATE) PROMTOOL=$(PROMTOOL) $(BIN)/pytest tests/deploy -m "not kafka" --basetemp=$(PYTEST_BASETEMP)

.PHONY: chaos  ## Full chaos: 3-5 replicas on PostgreSQL, 6,000 events, scaling, 7 kills, a 35 s Zalo outage over a rebalance, broker and PostgreSQL restarts, the chart's default timings (~5 min)
chaos: $(INSTALLED) kafka-jars .postgres
	$(BIN)/python -m bridge_devkit.chaos_replicas --workdir .cache/chaos-replicas $(CHAOS_ARGS)

.PHONY: chaos-five  ## Five consecutive full multi-replica chaos runs (different seeds), each reported (~25 min)
chaos-five: $(INSTALLED) kafka-jars .postgres
	$(BIN)/python -m bridge_devkit.chaos_replicas --runs 5 --workdir .cache/chaos-replicas $(CHAOS_ARGS)

.PHONY: chaos-single  ## One bridge process under heavier Zalo faults: 10,000 events, 5 kills, a broker restart
chaos-single: $(INSTALLED) kafka-jars
	$(BIN)/python -m bridge_devkit.chaos --events 10000 --cases 500 --kills 5 --broker-restarts 1 --workdir .cache/chaos

.PHONY: bench  ## Benchmark bridge vs a naive baseline and the raw limits, memory by dossiers (~19 min); writes docs/benchmarks.md
bench: $(INSTALLED) kafka-jars
	$(BIN)/pip install --quiet --constraint constraints.txt --editable './devkit[plot]'
	$(BIN)/python -m bridge_devkit.bench --workdir .cache/bench --report docs/benchmarks.md --plot docs/benchmarks-throughput.png $(BENCH_ARGS)

.PHONY: clean  ## Remove the virtualenv, caches and run data (not the Kafka jar cache)
clean:
	rm -rf $(VENV) .cache .run .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build dist
