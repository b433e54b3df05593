# ModelPlane developer commands. Every target that needs Python creates/updates .venv itself, so each
# works on a fresh machine: `make test` is the README's test command and what .ci/run calls.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CRD_DIRS := crds $(wildcard helm/modelplane/crds)
PYTEST_ARGS ?=
LINT_PATHS := operator services tests $(wildcard bench)

.PHONY: help venv system-deps lint fmt typecheck test test-fast test-cluster test-bin crds check-crds clean bench-tracking bench-operator

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install ModelPlane with every extra (editable)

system-deps: ## Install system packages the test tiers use (PostgreSQL server; needs root or sudo)
	@bash .ci/system-deps.sh

fmt: $(STAMP) ## Format and auto-fix
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

lint: $(STAMP) ## ruff, ruff format --check, mypy strict, import-linter
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/lint-imports

crds: $(STAMP) ## Regenerate crds/ (and the Helm chart's copy) from the API types
	$(BIN)/python -m modelplane.crd $(CRD_DIRS)

check-crds: $(STAMP) ## Fail when crds/ differs from the API types
	$(BIN)/python -m modelplane.crd --check $(CRD_DIRS)

HAVE_GO := $(shell command -v go 2>/dev/null)

test: $(STAMP) system-deps $(if $(HAVE_GO),test-bin) ## Lint, then every tier (builds the cluster tier's servers when Go is installed; missing components skip loudly, CI makes them fail)
	$(MAKE) --no-print-directory lint check-crds
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-bin: ## Build the pinned etcd, kube-apiserver and MinIO for the cluster tier (cold ~8 min, then 0.05 s)
	@bash .ci/testbin/build.sh >/dev/null

test-cluster: $(STAMP) test-bin ## The cluster tier only: envtest (etcd + kube-apiserver) and MinIO
	$(BIN)/python -m pytest -m cluster $(PYTEST_ARGS)

test-fast: $(STAMP) ## Unit tests only (no servers)
	$(BIN)/python -m pytest -m "not db and not s3 and not kmock and not cluster" $(PYTEST_ARGS)

bench-tracking: $(STAMP) ## ModelPlane vs MLflow tracking benchmark, writes docs/benchmarks.md (~15 min; BENCH_ARGS=--quick)
	$(BIN)/python bench/tracking/run.py $(BENCH_ARGS)

bench-operator: $(STAMP) ## operator on envtest: apply->Job latency, 1,000 TrainingRuns, RSS (~5 min; BENCH_ARGS=--quick)
	$(BIN)/python bench/operator/run.py $(BENCH_ARGS)

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache dist build
