# Two commands set everything up on a fresh machine (Python 3.11 and make present):
#   make run    install, migrate, create demo data and start web, sandbox, worker and beat
#   make test   install and run the whole test suite (exits non-zero on any failure)

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test lint install messages clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEVSTAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP) $@

install: $(STAMP)

run: $(STAMP)
	mkdir -p var/broker/out var/broker/processed var/mail
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py seed_demo
	$(PY) scripts/devrun.py

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy peruri

test: $(DEVSTAMP)
	mkdir -p var
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy peruri
	$(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(VENV)/bin/pytest -m "not e2e"
	# Browser journeys run in their own process: Playwright's sync API keeps an asyncio loop
	# running in the main thread, which code that calls asyncio.run() (pyHanko) cannot share.
	$(VENV)/bin/pytest -m e2e

# Refresh both catalogs after changing strings (needs GNU gettext); the compiled .mo files are committed.
messages: $(DEVSTAMP)
	$(PY) manage.py makemessages -l id -l en --ignore=.venv --ignore=var --ignore=static/vendor --ignore=node_modules
	$(PY) manage.py makemessages -d djangojs -l id -l en --ignore=.venv --ignore=var --ignore=static/vendor --ignore=node_modules
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf var/test-* .pytest_cache
