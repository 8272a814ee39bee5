# weakflow: the two set-up commands (`make demo`, `make test`) and the peer benchmarks (`make bench`).
# Each target creates its virtual environment when absent and reinstalls when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BENCH_VENV := .venv-bench
BIN := $(VENV)/bin
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip $(PIP_FLAGS) install --upgrade pip

# Runtime install: what `make demo` needs.
$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip $(PIP_FLAGS) install -e .
	touch $@

# Development install: tests, lint, type checks and the Dask engine (its tests must run, not skip).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip $(PIP_FLAGS) install -e '.[dev,dask]'
	touch $@ $(VENV)/.installed-runtime

demo: $(VENV)/.installed-runtime
	$(BIN)/weakflow demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

# Peers (snorkel 0.10.0 on torch's CPU build) live in their own venv, never in .venv.
$(BENCH_VENV)/.installed: pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install --upgrade pip
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install torch==2.13.0
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install snorkel==0.10.0 -e '.[dask]'
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/label_models.py
	$(BENCH_VENV)/bin/python benchmarks/label_model_speed.py
	$(BENCH_VENV)/bin/python benchmarks/lf_apply.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
