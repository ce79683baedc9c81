# Airflow Console: `make run` serves the console, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
SANDBOX_PORT ?= 28080
export PORT SANDBOX_PORT

.PHONY: run test test-fast lint bench install install-test chromium clean-sandbox

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $@

install: $(VENV)/.installed

## run: start the Airflow sandbox, the scheduler, the job worker and the web console (Ctrl-C stops all)
run: install
	./scripts/run.sh

## test: everything the tests need (Chromium included), then the whole suite on SQLite and
## every test that touches the database again on PostgreSQL + Redis (scripts/test.sh)
test: install chromium
	./scripts/test.sh $(BIN)/python $(PYTEST_ARGS)

## test-fast: the tests that need neither the Airflow sandbox nor a browser
test-fast: install
	$(BIN)/python -m pytest -n 2 -m "not integration and not e2e" $(PYTEST_ARGS)

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: run 'sudo apt-get install -y chromium'"; exit 1; fi; \
	fi

lint: install
	$(BIN)/ruff check console tests bench manage.py
	$(BIN)/ruff format --check console tests bench manage.py
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

clean-sandbox:
	-$(BIN)/python manage.py airflow-sandbox stop
	rm -rf .sandbox
