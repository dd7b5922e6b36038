# `make run` starts chunkwise on this machine; `make test` runs the whole gate; `make unit`
# runs the tests that start no process (see tests/process_guard.py), in well under a minute.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck unit clean

run: $(VENV)/.installed
	$(BIN)/chunkwise up

test: $(VENV)/.installed-dev lint typecheck
	$(BIN)/pytest

unit: $(VENV)/.installed-dev
	$(BIN)/pytest --unit -q -rfE

CODE := $(wildcard src tests bench)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# `make bench-tools` installs the programs bench/ measures against when they are missing:
# primesieve (prime counting) and wrk (HTTP load), both Debian packages.
BENCH_TOOLS := primesieve wrk

.PHONY: bench-tools
bench-tools:
	@missing=""; for tool in $(BENCH_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -z "$$missing" ]; then echo "already installed: $(BENCH_TOOLS)"; \
	else $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y $$missing; fi

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "chunkwise needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .chunkwise .pytest_cache .mypy_cache .ruff_cache
