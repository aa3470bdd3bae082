# IRL: the Identity Resolution Layer. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
IRL := $(VENV)/bin/irl
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install core core-clean up down status topics connect test test-unit lint worker demo bench bench-quick chaos clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	@# An editable install is what we ask for: setuptools' notice about it is not news.
	PYTHONWARNINGS='ignore:Editable installation:UserWarning' $(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

# install also compiles the core with mypyc (scripts/build_core.py, docs/architecture.md "The compiled
# core"): skipped in well under a second when the build in place is current (its stamp), 2-5 minutes
# otherwise; without gcc or Python.h one line says so and the pure Python core is used. test, demo,
# bench, chaos and .ci/run all go through it. `irl version` says which core runs.
install: $(VENV)/.installed ## Create the virtual environment, install IRL with its dev extra, compile the core (pure Python when it cannot)
	@$(PY) scripts/build_core.py --or-pure

core: $(VENV)/.installed ## Compile resolver/ with mypyc now, even when current; fails when it cannot
	$(PY) scripts/build_core.py --force

core-clean: ## Remove the compiled core (pure Python until the next make install; IRL_PURE_PYTHON=1 make install skips the build)
	$(PY) scripts/build_core.py --clean

up: install ## Start local Kafka (KRaft), the schema registry and Redis on 127.0.0.1; create topics and contracts
	scripts/services.sh up

down: ## Stop local Kafka, the registry and Redis (no process of ours is left)
	scripts/services.sh down

status: ## Show whether Kafka, the registry, Redis and Kafka Connect are running
	-scripts/kafka.sh status
	-scripts/registry.sh status
	-scripts/redis.sh status
	-scripts/connect.sh status

topics: install ## Create the project's topics with their fixed partition counts and register the contracts
	$(IRL) topics create

connect: up ## Kafka Connect with Debezium's JDBC sink: the resolved topic into PostgreSQL (docs/crm-connector.md)
	scripts/connect.sh start

test: install ## The whole suite, unit and integration (starts Kafka, the registry and Redis when not reachable)
	scripts/services.sh ensure
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-unit: install ## Unit tests only (no services)
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

lint: install ## ruff (lint and format check) and mypy (strict on resolver/; streams, tests and bench too)
	$(VENV)/bin/ruff check resolver streams tests bench
	$(VENV)/bin/ruff format --check resolver streams tests bench
	$(VENV)/bin/mypy resolver streams tests bench

worker: up ## Run the resolving worker in the foreground (digest key: IRL_DIGEST_KEY, else this clone's own; Redis: IRL_REDIS_URL, else the local one)
	IRL_DIGEST_KEY="$${IRL_DIGEST_KEY:-$$(scripts/local-secret.sh digest-key)}" \
	IRL_REDIS_URL="$${IRL_REDIS_URL:-$$(scripts/redis.sh url)}" $(IRL) worker

demo: install ## The main job end to end on generated data, with a report
	scripts/demo.sh

bench: install ## Benchmarks: prints a table, writes bench/results/ and BENCHMARKS.md
	scripts/services.sh ensure
	$(PY) -m bench.run

bench-quick: install ## A one-minute benchmark check
	scripts/services.sh ensure
	$(PY) -m bench.run --quick

chaos: install ## Crash, restart and bad-input scenarios at full size
	scripts/services.sh ensure
	IRL_CHAOS_FULL=1 $(VENV)/bin/pytest tests/chaos $(PYTEST_ARGS)

clean: down ## Stop services and remove local state (keeps the Kafka, registry and Connect downloads)
	rm -rf .cache/kafka/run-* .cache/registry/run-* .cache/connect/run-* .cache/redis irl-data demo-out .pytest_cache .mypy_cache .ruff_cache
	rm -rf build resolver/*.so resolver/native.stamp
