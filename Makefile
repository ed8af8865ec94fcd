# RightsDesk — the two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench lint migrate install lock clean

# Create the virtual environment and install the pinned versions from requirements.lock.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# The browser tests' accessibility scan injects axe-core (pinned in package-lock.json) into
# every page. Installed with npm when npm is there (.ci/run installs it); node_modules/ is not
# committed.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --silent && touch $(NODE_STAMP); \
	else echo "npm not found: the browser tests' axe-core scan will fail (apt-get install npm)" >&2; fi

install: $(STAMP) $(NODE_STAMP)

migrate: $(STAMP)
	$(BIN)/rightsdesk migrate

run: migrate
	$(BIN)/rightsdesk serve

# pytest exits 5 when it collected no tests; make treats that as a failure too.
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest

# The inner loop: the suite without the browser, PostgreSQL and fuzz tests (`make test` runs all).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser and not postgres and not fuzz"

# Benchmarks (not part of `make test`); see bench/README.md. Exits non-zero when a target fails.
# The SLA benchmark builds a 1,000,000-request database in a temporary directory (~4 min).
# The webhook benchmark sends 2,000 Channel Talk deliveries to a local uvicorn (~20 s).
# The intake benchmark floods `POST /v1/requests` at 50 and 100 filings/s for 3 minutes each,
# receipts over SMTP to a local sink, on SQLite and on a throwaway PostgreSQL (~10 min).
bench: $(STAMP)
	$(BIN)/python bench/sla_bench.py; sla=$$?; \
	$(BIN)/python bench/upload_memory.py; upload=$$?; \
	$(BIN)/python bench/webhook_latency.py; webhook=$$?; \
	$(BIN)/python bench/intake_bench.py; intake=$$?; \
	$(BIN)/python bench/search_bench.py; search=$$?; \
	test $$sla -eq 0 && test $$upload -eq 0 && test $$webhook -eq 0 && test $$intake -eq 0 \
	  && test $$search -eq 0

# Style, types, the import layers (pyproject.toml [tool.importlinter]) and the migrations
# against the models (`alembic check` on a scratch SQLite database at head).
lint: $(STAMP)
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/ruff format --check app tests bench migrations
	$(BIN)/mypy app
	$(BIN)/lint-imports --no-cache
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  export RIGHTSDESK_ENV=development RIGHTSDESK_DATA_DIR="$$tmp" \
	    RIGHTSDESK_DATABASE_URL="sqlite:///$$tmp/check.db" && \
	  $(BIN)/alembic upgrade head >/dev/null 2>&1 && $(BIN)/alembic check

# Re-resolve the dependencies in a scratch environment and pin what was installed.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Pinned versions that \`make\` installs (pip install -c requirements.lock -e '.[dev]')."; \
	  echo "# Regenerate with \`make lock\` after changing dependencies in pyproject.toml."; \
	  .lockenv/bin/python -m pip freeze --exclude-editable; } > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
