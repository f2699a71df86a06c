# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup dev run test lint typecheck bench fuzz soak faults docker-check clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is required (python3.11+ not found on PATH)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.runtime-installed

## setup: create .venv and install the gateway
setup: $(VENV)/.runtime-installed

## dev: setup plus the test and lint tools
dev: $(VENV)/.dev-installed

## run: start the gateway on :8000 with its embedded defaults (SQLite file, in-process state)
run: setup
	$(BIN)/pgw serve

## test: make sure PostgreSQL, Redis and Chromium (browser tests) are there, then run the whole suite
test: dev
	@bash .ci/ensure-services.sh
	@bash .ci/ensure-browser.sh
	$(BIN)/pytest $(PYTEST_ARGS)

## lint: ruff lint and format check
lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## typecheck: mypy (strict) on the domain packages
typecheck: dev
	$(BIN)/mypy

## bench: run every benchmark under bench/ and write docs/benchmarks.md
bench: dev
	@bash .ci/ensure-services.sh
	$(BIN)/python -m bench.run

## fuzz: schemathesis over the gateway's own OpenAPI, every operation, at least 2,000 requests
fuzz: dev
	@bash .ci/ensure-services.sh
	PGW_FUZZ_MAX_EXAMPLES=$${PGW_FUZZ_MAX_EXAMPLES:-45} PGW_FUZZ_MIN_REQUESTS=$${PGW_FUZZ_MIN_REQUESTS:-2000} \
		$(BIN)/pytest tests/fuzz -p no:cacheprovider $(PYTEST_ARGS)

## soak: 10 minutes of steady mixed traffic against `pgw serve`; errors, p50/p99 per route, memory
soak: dev
	@bash .ci/ensure-services.sh
	$(BIN)/python -m harness.soak $(SOAK_ARGS)

## faults: SIGKILL, Redis restart, PostgreSQL restart, a failing partner; accounting of every request
faults: dev
	@bash .ci/ensure-services.sh
	$(BIN)/python -m harness.faults $(FAULTS_ARGS)

## docker-check: validate docker/compose.yaml with the Compose v2 CLI and lint the Dockerfile
docker-check:
	bash docker/check-compose.sh

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
