# Wayhouse. `make run` starts everything; `make test` runs the whole suite. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WAYHOUSE := $(VENV)/bin/wayhouse

.PHONY: setup system-packages venv run stop test lint format bench-ingest bench-routing clean

setup: system-packages venv

system-packages:
	@bash scripts/setup-system.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

run: setup
	$(WAYHOUSE) run

stop:
	@if [ -x $(WAYHOUSE) ]; then $(WAYHOUSE) stop; else echo "nothing to stop"; fi

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format .

bench-ingest: setup
	$(WAYHOUSE) bench ingest --mode live --rate 30000 --duration 20 --agents 1000 --json bench/results/ingest-live-30k.json

bench-routing: setup
	$(WAYHOUSE) bench routing --set solomon --engine portfolio --time-limit 30 --convention dimacs --json bench/results/routing-solomon.json

clean:
	@$(MAKE) -s stop || true
	rm -rf $(VENV) var
