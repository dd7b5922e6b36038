# `make run` starts chunkwise on this machine; `make test` runs the whole gate; `make unit`
# runs the tests that start no process (see tests/process_guard.py), in well under a minute.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck unit clean

run: $(VENV)/.installed
	$(BIN)/chunkwise up

test: $(VENV)/.installed-dev browser compose nginx primecount bubblewrap lint typecheck
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

# `make browser` installs Debian's chromium, which the dashboard's browser tests drive
# (tests/e2e), when it is missing and apt can install it; without it those tests skip.
.PHONY: browser
browser:
	@if command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y chromium \
		|| echo "chromium could not be installed: the browser tests will skip"; \
	else echo "no chromium and no apt: the browser tests will skip"; fi

# `make compose` installs Debian's docker-compose, which validates deploy/docker-compose.yml
# in a test, when no compose tool is there and apt can install one (no Docker engine needed).
.PHONY: compose
compose:
	@if docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y docker-compose \
		|| echo "docker-compose could not be installed: the compose test will skip"; \
	else echo "no compose tool and no apt: the compose test will skip"; fi

# `make nginx` installs Debian's nginx, which the cluster test (tests/cluster) puts in front
# of two API processes with deploy/nginx.conf, when it is missing and apt can install it.
.PHONY: nginx
nginx:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y nginx \
		|| echo "nginx could not be installed: the cluster test will skip"; \
	else echo "no nginx and no apt: the cluster test will skip"; fi

# `make primecount` installs Debian's primecount, the oracle the combinatorial prime-count
# tests check against (tests/workloads/test_prime_counting_oracle.py).
.PHONY: primecount
primecount:
	@if command -v primecount >/dev/null; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y primecount \
		|| echo "primecount could not be installed: the oracle tests will skip"; \
	else echo "no primecount and no apt: the oracle tests will skip"; fi

# `make bubblewrap` installs Debian's bubblewrap, in which a test runs the systemd API
# unit's command with only its state directory writable (tests/deploy_units).
.PHONY: bubblewrap
bubblewrap:
	@if command -v bwrap >/dev/null; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y bubblewrap \
		|| echo "bubblewrap could not be installed: the systemd unit test will skip"; \
	else echo "no bwrap and no apt: the systemd unit test will skip"; fi

# `make containers` installs what the deploy test (tests/deploy, CHUNKWISE_TEST_DEPLOY=1)
# runs deploy/ with, when missing and apt can: podman with aardvark-dns (service names) and
# runc (crun refuses hybrid cgroups, as on these machines), debootstrap (the base of the
# stand-in images) and docker-compose.
CONTAINER_TOOLS := podman aardvark-dns runc debootstrap docker-compose

.PHONY: containers
containers:
	@missing=""; for tool in $(CONTAINER_TOOLS); do \
		dpkg -s $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -z "$$missing" ]; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y $$missing \
		|| echo "$$missing could not be installed: the deploy test will skip"; \
	else echo "no$$missing and no apt: the deploy test will skip"; fi

# `make screenshots` refreshes the dashboard pictures the README shows, from a browser run.
.PHONY: screenshots
screenshots: $(VENV)/.installed-dev browser
	CHUNKWISE_SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest -q tests/e2e

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
	$(BIN)/pip install -q -e '.[all]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .chunkwise .pytest_cache .mypy_cache .ruff_cache
