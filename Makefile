# The whole set-up is two commands: `make demo` and `make test`.
# Each creates or refreshes .venv and node_modules when their inputs changed, then runs its job.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP  := $(VENV)/.stamp-install
NPM_STAMP := node_modules/.stamp-npm-ci
# the dashboard's front-end packages, copied from node_modules into the Python package's data
VENDOR := src/proofmind/api/static/vendor
VENDOR_STAMP := $(VENDOR)/.stamp-vendor

SLITHER_VENV  := $(VENV)/slither
SLITHER_STAMP := $(SLITHER_VENV)/.stamp-install
SLITHER_BUILD := out/slither

.PHONY: setup demo test lint typecheck slither forge pytest compile bench clean

setup: $(PY_STAMP) $(NPM_STAMP) $(VENDOR_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(VENDOR_STAMP): $(NPM_STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/cytoscape/dist/cytoscape.esm.min.mjs $(VENDOR)/cytoscape.esm.min.js
	cp node_modules/cytoscape/LICENSE $(VENDOR)/cytoscape.LICENSE
	@touch $@

# The demo, then the service with its dashboard (Ctrl-C stops it; the devnet keeps running
# until `proofmind chain down`).
demo: setup
	$(BIN)/proofmind demo
	$(BIN)/proofmind serve

# The static checks run side by side (each is mostly one thread), then the tests. A check that
# fails stops `make test` once the others have finished; each one's output is printed whole.
test: setup
	$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck slither forge
	$(MAKE) --no-print-directory pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

# Static analysis of contracts/src: fails on any finding of medium or higher impact. A finding
# is fixed, or suppressed where it is with `// slither-disable-next-line DETECTOR (reason)`.
# slither.config.json: what is analysed. Offline: forge compiles with solc-js, Slither reads
# forge's build-info (no solc download); ~15 s when the sources did not change.
slither: $(SLITHER_STAMP) $(SLITHER_BUILD)/.stamp
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(SLITHER_VENV)/bin/slither . --fail-medium

# Slither's own venv: it pins web3 < 8, proofmind needs web3 8 (see requirements-slither.txt).
$(SLITHER_STAMP): requirements-slither.txt | $(BIN)/python
	$(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet -r requirements-slither.txt
	@touch $@

# A fresh build with build-info when a source changed: an incremental one leaves several
# build-info files behind, and Slither would read stale source maps from the older ones.
$(SLITHER_BUILD)/.stamp: contracts/src $(wildcard contracts/src/*.sol) foundry.toml $(NPM_STAMP)
	rm -rf $(SLITHER_BUILD) cache/slither
	node_modules/.bin/forge build --build-info --skip './contracts/test/**' \
		--out $(SLITHER_BUILD) --cache-path cache/slither
	@touch $@

forge:
	node_modules/.bin/forge test

# Two worker processes, each with its own devnet; a file's tests stay on one worker (their
# module fixtures are built once). PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 2
pytest:
	$(BIN)/pytest -q --durations=20 -n $(PYTEST_WORKERS) --dist loadfile

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
