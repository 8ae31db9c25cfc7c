# The two commands README.md starts with:
#   make run   - start PostgreSQL, Redis and Qdrant as local processes and open alfred-tui
#   make test  - install what a fresh Debian machine lacks, then run every test
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint venv system-deps clean dist dist-lock

$(BIN)/alfred-tui: pyproject.toml
	scripts/ensure-system-deps.sh runtime
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/alfred-tui

venv: $(BIN)/alfred-tui

run: venv
	scripts/ensure-system-deps.sh runtime
	$(BIN)/alfred-tui up --yes --profile local
	$(BIN)/alfred-tui --profile local

test: venv
	scripts/ensure-system-deps.sh test
	$(BIN)/ruff check alfred_tui tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	scripts/run-tests.sh $(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check alfred_tui tests benchmarks
	$(BIN)/ruff format --check alfred_tui tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# One executable file with alfred-tui and every dependency for CPython 3.11-3.14 on
# Linux x86_64, for machines without network (docs/bastion.md).
dist: venv
	$(BIN)/python scripts/build_dist.py

# Resolve pyproject's dependencies for every target Python again (packaging/pex-lock.json).
dist-lock: venv
	$(BIN)/python scripts/build_dist.py lock

clean:
	rm -rf $(VENV) build dist .pytest_cache
