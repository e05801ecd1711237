# qsim: `make run` simulates the flagship scenario, `make test` runs the test suite.
# Both create the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= scenarios/food-delivery.yaml

.PHONY: run test lint validate clean bench

$(BIN)/qsim: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-extras: $(BIN)/qsim
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.bench-extras: $(BIN)/qsim
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

# qsim's own bytecode, written ahead: a worker process then reads it instead of compiling
# every module at its start (0.24 s against 0.13 s of CPU over simpy + numpy, measured by
# benchmarks/startup.py), also where PYTHONDONTWRITEBYTECODE keeps Python from caching it.
# (pip writes it for the dependencies, and for qsim when installed from a wheel.)
BYTECODE = $(BIN)/python -m compileall -q qsim

run: $(BIN)/qsim
	@$(BYTECODE)
	$(BIN)/qsim run $(SCENARIO)

# Everything but the live-broker and browser tests on every core (pytest-xdist), then the live
# ones, with a RabbitMQ and a NATS server if they are installed (.ci/services starts and stops
# them): `qsim import`'s first and alone (it compares the broker's own rates with the consumers'
# wall-clock handling times, which busy neighbours would stretch), then the others one
# module per process, side by side (they mostly wait on the brokers' wall clock, and each keeps
# to its own queues, vhost or stream), then the browser ones (tests/test_browser.py) in headless
# Chromium, which .ci/browser installs when it is missing and it may (root).
TEST_WORKERS ?= auto
LIVE_WORKERS ?= 3
LIVE_ALONE := tests/test_live_import.py
test: $(VENV)/.test-extras
	@$(BYTECODE)
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m "not live and not browser"
	bash .ci/services sh -c '$(BIN)/pytest -q -m live $(LIVE_ALONE) && \
	  $(BIN)/pytest -q -n $(LIVE_WORKERS) --dist loadfile -m live --ignore=$(LIVE_ALONE)'
	bash .ci/browser $(BIN)/pytest -q -m browser

lint: $(VENV)/.test-extras
	$(BIN)/ruff check qsim tests benchmarks
	$(BIN)/ruff format --check qsim tests benchmarks
	$(BIN)/mypy

validate: $(BIN)/qsim
	$(BIN)/qsim validate scenarios/*.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# BENCH_ARGS=--quick for a smoke run; see `$(BIN)/python -m benchmarks.bench --help`. Then the
# fan-out table (about 2 minutes; --quick in BENCH_ARGS makes it a smoke run too; see
# `$(BIN)/python -m benchmarks.fanout --help`).
FANOUT_ARGS ?= $(filter --quick,$(BENCH_ARGS))
bench: $(VENV)/.bench-extras
	@$(BYTECODE)
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.fanout $(FANOUT_ARGS)
