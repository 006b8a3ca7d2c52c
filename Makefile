# Orderline: `make run` starts everything, `make test` runs the whole suite.
#
# Only python3 (3.11+) is needed on a fresh machine: the first target that needs Python
# creates .venv, installs a pinned uv into it, and installs the locked dependencies
# (uv.lock) into that same .venv. It syncs again only when uv.lock or pyproject.toml change.
#
# Configuration comes from the environment (see .env.example): with nothing set, SQLite
# under var/ and a filesystem Celery broker; DATABASE_URL / REDIS_URL / EMAIL_URL switch to
# PostgreSQL, Redis and real SMTP.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION ?= 0.13.9
PORT ?= 8000
PYTEST_ARGS ?=

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
UV := $(BIN)/uv
STAMP := $(VENV)/.orderline-synced

# uv installs into .venv (not a venv of its own), never downloads an interpreter, and trusts
# the operating system's certificate store (as pip does), so it works behind a TLS proxy.
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_SYSTEM_CERTS ?= true
export PORT

.PHONY: help venv install migrate seed collectstatic run web worker beat test bench \
        lint format check clean distclean

help: ## list the targets
	@echo "Orderline make targets:"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

# --- environment -------------------------------------------------------------------------

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit("Orderline needs Python 3.11+, this is " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

# --inexact: keep pip and uv itself in .venv (an exact sync would uninstall them).
$(STAMP): uv.lock pyproject.toml | $(PY)
	@if ! $(UV) --version 2>/dev/null | grep -qE '^uv $(subst .,\.,$(UV_VERSION))( |$$)'; then \
	  echo "installing uv $(UV_VERSION) into $(VENV)"; \
	  $(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade >/dev/null; \
	  $(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; \
	fi
	$(UV) sync --frozen --inexact
	@touch $@

venv: install ## create .venv and install the locked dependencies (same as install)
install: $(STAMP) ## create .venv and install the locked dependencies (only when uv.lock changed)

# --- running -----------------------------------------------------------------------------

migrate: install ## apply database migrations
	$(PY) manage.py migrate --noinput

seed: migrate ## load demo data and demo users (idempotent)
	$(PY) manage.py seed_demo

collectstatic: install ## collect static files into var/staticfiles
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: install ## migrate, seed, then run web + Celery worker + beat (Ctrl-C stops all)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo
	exec $(PY) scripts/run.py

web: install ## only the development web server (with autoreload) on 127.0.0.1:PORT
	exec $(PY) manage.py runserver 127.0.0.1:$(PORT)

worker: install ## only a Celery worker
	exec $(PY) -m celery -A config worker --loglevel=INFO --concurrency=2

beat: install ## only Celery beat
	exec $(PY) -m celery -A config beat --loglevel=INFO

# --- quality -----------------------------------------------------------------------------

test: install ## ruff, migrations check, import contracts, then the whole pytest suite
	$(BIN)/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/lint-imports
	$(BIN)/pytest --ignore=tests/bench $(PYTEST_ARGS)

bench: install ## run the benchmarks in tests/bench and print their figures
	@if [ -d tests/bench ]; then \
	  $(PY) -m pytest tests/bench -s -p no:cacheprovider -o python_files='test_*.py bench_*.py' $(PYTEST_ARGS); \
	else \
	  echo "no benchmarks yet: tests/bench/ does not exist"; \
	fi

lint: install ## ruff check, ruff format --check, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install ## ruff format and safe autofixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: install ## Django system checks
	$(PY) manage.py check

# --- cleaning ----------------------------------------------------------------------------

clean: ## remove caches and collected static files (keeps .venv and the database)
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf
	rm -rf .pytest_cache .ruff_cache var/staticfiles var/broker

distclean: clean ## also remove .venv and var/ (the SQLite database, media, dev secret key)
	rm -rf $(VENV) var
