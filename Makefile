# Commons Ledger — every entry point sets up what it needs first (idempotent, fast when done).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SOLC_VERSION := $(shell awk '/^ *solc:/{s=1} s && /version:/{print $$2; exit}' brownie-config.yaml)
SOLC_BIN := .tools/solcx/solc-v$(SOLC_VERSION)
export SOLCX_BINARY_PATH := $(CURDIR)/.tools/solcx
PYTEST_ARGS ?=

.PHONY: help setup run test test-contracts test-ledger lint bench clean down hardhat nginx

include web/web.mk
include tools/lint/lint.mk
include stress.mk

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.stamp: requirements.lock pyproject.toml
	test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	# --no-deps: the lock is the whole resolved set (brownie's pins and pydantic-settings'
	# python-dotenv floor cannot be resolved together; see DESIGN.md).
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

node_modules/.stamp: package.json package-lock.json .npmrc
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

$(SOLC_BIN): tools/solc.js node_modules/.stamp
	mkdir -p $(dir $@)
	ln -sf ../../tools/solc.js $@
	$@ --version >/dev/null

setup: $(VENV)/.stamp node_modules/.stamp $(SOLC_BIN) web ## install Python venv, npm packages, compiler, web page
	$(VENV)/bin/commons build

# `-@` keeps make from adding its own "Interrupt" line to Ctrl-C's one line; the exit status is
# carried through a file instead (make exits by the SIGINT it got itself after a Ctrl-C).
run: setup ## chain + deploy + API on http://127.0.0.1:8000 (demo seeded on first start)
	-@$(VENV)/bin/commons run; echo $$? > $(VENV)/.run-status
	@status=$$(cat $(VENV)/.run-status); rm -f $(VENV)/.run-status; exit $$status

down: ## stop `make run` (the API and the chain) or a chain started alone; state is saved
	$(VENV)/bin/commons down

# Hardhat's node (its own npm project): the second EVM implementation the attach-mode tests use.
HARDHAT_DIR := tools/hardhat
$(HARDHAT_DIR)/node_modules/.stamp: $(HARDHAT_DIR)/package.json $(HARDHAT_DIR)/package-lock.json
	cd $(HARDHAT_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

hardhat: $(HARDHAT_DIR)/node_modules/.stamp ## install Hardhat's node for the attach-mode tests

# Debian's nginx: the TLS proxy in front of the API (deploy/nginx/, tests/e2e/test_tls_proxy.py).
nginx: ## install Debian's nginx (nginx-light) for the TLS proxy test
	test -x /usr/sbin/nginx || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light)

# `lint` first: CI (.ci/run → make test) also runs ruff, mypy, the page's checks, slither, solhint.
test: setup web-browser hardhat nginx lint ## lint, then the whole test suite
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=40 $(PYTEST_ARGS)

test-contracts: setup ## contract tests only
	$(VENV)/bin/pytest -q tests/contracts $(PYTEST_ARGS)

test-ledger: setup ## ledger and app (commons/) tests only
	$(VENV)/bin/pytest -q tests/ledger tests/commons $(PYTEST_ARGS)

lint: setup web-check lint-contracts ## ruff, mypy, the web page's type check, slither + solhint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy ledger commons api bench stress

bench: setup ## gas and speed benchmarks; results in bench/results/
	$(PY) -m bench

clean: ## remove build output (keeps chain data in var/)
	rm -rf build .tools
