# Kervan: `make run` to try it, `make test` to run the whole suite. Nothing else is needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/kervan

.PHONY: run dev test test-postgres lint typecheck migrations-check format bench clean

# The project itself is installed in editable mode (pyproject.toml), so `kervan` and `config` import from anywhere
# (bench/ scripts) without sys.path edits.
# The Segment-spec tests drive the real Node libraries (@segment/analytics-node, analytics-next in the browser),
# pinned in $(NODE_TESTS)/package-lock.json.
NODE_TESTS := kervan/events/tests/node
$(STAMP): requirements/base.txt requirements/dev.txt pyproject.toml $(NODE_TESTS)/package-lock.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81"
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-build-isolation --no-deps -e .
	cd $(NODE_TESTS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests…"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

# `make run` serves as a shop would use it: DEBUG off (Kervan's own 404/500 pages, never Django's debug page), static
# files through WhiteNoise, granian as in production (config.settings.local: SQLite and the demo shop). `make dev` is
# for working on Kervan: Django's runserver with DEBUG, debug pages and auto-reload.
define PREPARE
	@mkdir -p "$${KERVAN_VAR_DIR:-var}" staticfiles
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py demo_load --customers 2000 --seed 7 --if-empty
	@echo ""
	@echo "  Kervan is running at http://127.0.0.1:$(PORT)/"
	@echo "  Log in as  demo / kervan-demo  (Admin)"
	@echo ""
endef

run: $(STAMP)
	$(PREPARE)
	@trap 'kill 0' EXIT; $(PY) manage.py db_worker -v 0 & $(PY) manage.py run_scheduler & \
	  $(VENV)/bin/granian --interface asginl --host 0.0.0.0 --port $(PORT) --workers 1 \
	  --log-level warning config.asgi:application

dev: $(STAMP)
	$(PREPARE)
	@trap 'kill 0' EXIT; export KERVAN_DEBUG=1; $(PY) manage.py db_worker -v 0 & $(PY) manage.py run_scheduler & \
	  $(PY) manage.py runserver 0.0.0.0:$(PORT)

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest

test-postgres: $(STAMP) $(CHROMIUM)
	DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy, strict, on the modules listed in pyproject.toml ([tool.mypy] files). That list only grows: add a module
# once it passes, never remove one. The cache lives in .venv/mypy-cache.
typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Every model change has its migration. Checked against a throwaway SQLite file, never a real database.
migrations-check: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  DATABASE_URL=sqlite:///$$tmp/check.sqlite3 $(PY) manage.py makemigrations --check --dry-run

# Benchmarks are run by hand, one at a time, each on the data and database it names (bench/README.md: PostgreSQL on
# 127.0.0.1:5432, some also Redis and wrk). This merges their recorded figures (bench/results/*.json) into
# bench/results.json and the summary table of bench/README.md, and lists the scripts.
bench: $(STAMP)
	$(PY) bench/collect.py

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var staticfiles
