# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-quick preflight lint format screenshots bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "sessions_mgmt needs python3 >= 3.11 (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	@echo "Demo users (sign in at http://127.0.0.1:8000/accounts/login/):"
	@$(BIN)/python manage.py create_demo_users
	$(BIN)/python manage.py runserver 127.0.0.1:8000

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# axe-core, which the browser tests inject into pages (from the npm registry).
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# What the full run needs besides Python (PostgreSQL, MariaDB, Redis, Chromium, npm): one
# clear line for each that is missing, before anything runs. test-quick needs none of them.
preflight:
	@scripts/preflight.sh

test: preflight lint node_modules/axe-core/axe.min.js
	$(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python -m django makemigrations --check --dry-run
	scripts/docs.sh
	scripts/test-matrix.sh

# Benchmarks (figures, not tests): BENCH=full for the long profile. See docs/PERFORMANCE.md.
bench: $(VENV)/.installed
	cd bench && ../$(BIN)/python run.py

# Re-take the README's screenshots (docs/screenshots/*.png) in Chromium.
screenshots: $(VENV)/.installed node_modules/axe-core/axe.min.js
	SCREENSHOTS=1 E2E=1 $(BIN)/python -m pytest -q -m screenshots --ds=config.settings tests/demo

# One quick run on the default combination (SQLite, db engine).
test-quick: $(VENV)/.installed
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .venv-django6 db.sqlite3 .pytest_cache .ruff_cache
