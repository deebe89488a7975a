# Two commands: `make run` starts Ronron, `make test` runs every check CI runs.
# Recipes stay short: the logic lives in scripts/ and tests/run_postgres.py.

VENV := .venv
BIN := $(VENV)/bin
MAKEFLAGS += --no-print-directory

.PHONY: run test install-test-deps lint test-sqlite test-postgres messages

run:
	scripts/install-run-deps
	$(MAKE) $(VENV)/.runtime-installed
	$(BIN)/ronron serve

# One step after the other, each failing the whole: Debian packages first (the virtualenv
# may need python3-venv), then Python packages, then the checks, then the suite twice.
test:
	scripts/install-run-deps
	scripts/install-test-deps
	$(MAKE) $(VENV)/.dev-installed
	$(MAKE) lint
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

install-test-deps:
	scripts/install-test-deps

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	scripts/check-migrations

# Tests keep their files (secret key, uploads, static) out of the working copy's ./var.
TEST_DATA_DIR := $(CURDIR)/var/tests

test-sqlite: $(VENV)/.dev-installed
	RONRON_DATA_DIR=$(TEST_DATA_DIR) $(BIN)/pytest

# Browser tests run once, on SQLite: they exercise pages, not the database.
test-postgres: $(VENV)/.dev-installed
	RONRON_DATA_DIR=$(TEST_DATA_DIR) $(BIN)/python tests/run_postgres.py -m "not browser"

# After adding or changing a UI string: regenerate the catalogues, translate the new French
# entries in src/ronron/locale/fr/LC_MESSAGES/django.po, then run `make messages` again to compile.
messages: $(VENV)/.dev-installed
	cd src/ronron && RONRON_DATA_DIR=$(TEST_DATA_DIR) ../../$(BIN)/ronron makemessages -l fr -l en --ignore "*/migrations/*"
	cd src/ronron && RONRON_DATA_DIR=$(TEST_DATA_DIR) ../../$(BIN)/ronron compilemessages

$(BIN)/python:
	python3 -m venv $(VENV)

# Reinstalled only when pyproject.toml changes: the install is editable, code changes need none.
$(VENV)/.runtime-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.runtime-installed
