SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
comma := ,

.PHONY: help run test bench lint services clean distclean

help:
	@echo "make run     start the fleet (venv, services, migrate, topology, run)"
	@echo "make test    run the test suite (PYTEST_ARGS='-k ...' to narrow it)"
	@echo "make bench   run the benchmarks"
	@echo "make lint    ruff check"
	@echo "make clean   remove caches; distclean also removes $(VENV)"

# The one place the venv is created and the project installed. Stamps make it a no-op
# until pyproject.toml changes; the bench extras get their own stamp.
define install
test -x $(BIN)/python || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --upgrade pip; }
$(BIN)/python -m pip install --quiet -e '.[$(1)]'
touch $@
endef

$(VENV)/.installed: pyproject.toml
	$(call install,test)

$(VENV)/.installed-bench: pyproject.toml
	$(call install,test$(comma)bench)

# Services already answering are left alone. If something is down and a Docker engine is
# usable, compose provides it; otherwise ensure-services starts local ones or explains.
services:
	@if ! scripts/ensure-services --check 2>/dev/null \
	    && docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then \
	  echo "docker compose up -d --wait rabbitmq postgres"; \
	  docker compose up -d --wait rabbitmq postgres; \
	fi
	@scripts/ensure-services

run: $(VENV)/.installed services
	$(BIN)/switchboard migrate
	$(BIN)/switchboard topology
	exec $(BIN)/switchboard run

# Unit tests need no services, so a failure here only warns: tests that need RabbitMQ or
# PostgreSQL then fail with their own clear message.
test: $(VENV)/.installed
	@scripts/ensure-services || echo "make test: continuing; tests that need the services will fail"
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-bench services
	$(BIN)/python -m bench

$(BIN)/ruff: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet ruff

lint: $(BIN)/ruff
	$(BIN)/ruff check .
	bash -n scripts/ensure-services .ci/run

clean:
	rm -rf .pytest_cache .hypothesis .ruff_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
