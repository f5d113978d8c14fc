# Kervan: `make run` to try it, `make test` to run the whole suite. Nothing else is needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/kervan

.PHONY: run test test-postgres lint format bench clean

$(STAMP): requirements/base.txt requirements/dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81"
	$(PY) -m pip install --quiet -r requirements/dev.txt
	@touch $(STAMP)

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests…"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

run: $(STAMP)
	@mkdir -p var
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py demo_load --customers 2000 --seed 7 --if-empty
	@echo ""
	@echo "  Kervan is running at http://127.0.0.1:$(PORT)/"
	@echo "  Log in as  demo / kervan-demo  (Admin)"
	@echo ""
	@trap 'kill 0' EXIT; $(PY) manage.py db_worker -v 0 & $(PY) manage.py runserver 0.0.0.0:$(PORT)

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest

test-postgres: $(STAMP) $(CHROMIUM)
	DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var staticfiles
