# The whole set-up is two commands: `make demo` and `make test`.
# Each creates or refreshes .venv and node_modules when their inputs changed, then runs its job.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP  := $(VENV)/.stamp-install
NPM_STAMP := node_modules/.stamp-npm-ci

.PHONY: setup demo test lint typecheck forge pytest compile bench clean

setup: $(PY_STAMP) $(NPM_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

demo: setup
	$(BIN)/proofmind demo

test: setup lint typecheck forge pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

forge:
	node_modules/.bin/forge test

pytest:
	$(BIN)/pytest -q

# Regenerate the contract artifacts shipped in src/proofmind/artifacts (see docs/contracts.md).
compile: $(NPM_STAMP)
	node scripts/compile_contracts.mjs

bench: setup
	$(BIN)/python benchmarks/bench_merkle.py
	$(BIN)/python benchmarks/bench_provenance.py
	$(BIN)/python benchmarks/bench_valuation.py
	$(BIN)/python benchmarks/bench_oracle.py

clean:
	rm -rf $(VENV) node_modules out cache .mypy_cache .ruff_cache .pytest_cache
