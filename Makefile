# The two commands of the README: `make run` (the demo) and `make test` (the whole suite).
# Both set up the virtualenv themselves on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

.PHONY: run test lint typecheck pytest test-silent-points package vendor clean

run: $(STAMP)
	$(BIN)/contact-center serve --demo

test: $(STAMP) $(NODE_STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest

# The HTTP and simulator suites, every test under each of the simulator's eight ways of
# going where Graph's documentation is silent (`make test` runs only the tests that ring
# agents or read rosters under all eight): docs/decisions/0020-graph-silent-points.md.
test-silent-points: $(STAMP) $(NODE_STAMP)
	SIMULATOR_SILENT_POINTS=all $(BIN)/pytest tests/http tests/simulator

# Copy the vendored browser libraries and schemas again from node_modules (after an upgrade
# in package.json): docs/decisions/0018-installable-wheel.md.
vendor: $(STAMP) $(NODE_STAMP)
	$(BIN)/python tools/vendor.py

# Test-only tools from npm: the Cosmos DB test server, Azurite, axe-core, and the npm
# packages the vendored files are checked against.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(STAMP): pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
