# weakflow: the two set-up commands (`make demo`, `make test`) and the peer benchmarks (`make bench`).
# Each target creates its virtual environment when absent and reinstalls when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BENCH_VENV := .venv-bench
BIN := $(VENV)/bin
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test test-interop lint typecheck bench clean

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
	$(BIN)/weakflow demo --dir weakflow-demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

# The Snorkel interop tests (tests/test_snorkel_interop.py) skip in .venv, where snorkel is not
# installed; this runs them in a venv of their own (torch's local CPU wheel first, then snorkel
# 0.10.0 and weakflow's dev extra; about 2 minutes). CI runs it after `make test`.
INTEROP_VENV := .venv-interop
$(INTEROP_VENV)/.installed: pyproject.toml
	test -x $(INTEROP_VENV)/bin/python || $(PYTHON) -m venv $(INTEROP_VENV)
	$(INTEROP_VENV)/bin/python -m pip $(PIP_FLAGS) install torch==2.13.0
	$(INTEROP_VENV)/bin/python -m pip $(PIP_FLAGS) install snorkel==0.10.0 -e '.[dev]'
	touch $@

test-interop: $(INTEROP_VENV)/.installed
	$(INTEROP_VENV)/bin/python -m pytest tests/test_snorkel_interop.py -p no:cacheprovider -rs

# Peers (snorkel 0.10.0 on torch's CPU build) live in their own venv, never in .venv.
# How it installs (checked with `pip check`): torch 2.13.0 first, alone, so that pip takes the local
# CPU wheel (torch-2.13.0+cpu, from the find-links folder in pip's config) and snorkel's
# `torch>=1.2.0` is already met when snorkel comes. snorkel 0.10.0's requirements are floors only
# (numpy>=1.24, pandas>=1.0, scikit-learn>=0.20.2, scipy>=1.2, tensorboard>=2.13, munkres, networkx,
# protobuf, tqdm), so it resolves in one step with weakflow's [dask] extra: no --no-deps needed.
# Result: numpy 2.4.6, pandas 3.1.1, scipy 1.17.1, scikit-learn 1.9.1, the versions Snorkel's
# published figures were measured with. The dev extra brings what the test suite's conftest
# needs (pytest, hypothesis) to run tests/test_snorkel_interop.py.
# Then MLflow 3.17.2 (the peers' serving figures' version) for benchmarks/serve.py: it takes the
# numpy/pandas/scikit-learn/fastapi/uvicorn already there (pip check passes), so `mlflow models
# serve` and `weakflow serve` run on the same packages. Then Evidently 0.7.23 for
# benchmarks/drift.py, which needs pandas < 3: pip moves pandas to 2.3.x (mlflow, snorkel and
# weakflow accept it; pip check passes).
$(BENCH_VENV)/.installed: pyproject.toml Makefile
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install --upgrade pip
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install torch==2.13.0
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install snorkel==0.10.0 -e '.[dask,dev]'
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install mlflow==3.17.2
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install evidently==0.7.23 'pandas<3'
	$(BENCH_VENV)/bin/python -m pip $(PIP_FLAGS) install nannyml==0.13.1 'pandas<3'
	$(BENCH_VENV)/bin/python -m pip check
	touch $@

# The interop tests first (they need snorkel, so only here), then the benchmarks at full size
# (lf_apply + label_model_speed take about 15 minutes on 2 busy cores, serve about 8 more: it
# starts weakflow and MLflow servers on free ports of 127.0.0.1 and stops them); results go to
# benchmarks/results/. See benchmarks/README.md.
bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m pytest tests/test_snorkel_interop.py -p no:cacheprovider
	$(BENCH_VENV)/bin/python benchmarks/lf_apply.py
	$(BENCH_VENV)/bin/python benchmarks/label_model_speed.py
	$(BENCH_VENV)/bin/python benchmarks/label_models.py
	$(BENCH_VENV)/bin/python benchmarks/serve.py
	$(BENCH_VENV)/bin/python benchmarks/drift.py
	$(BENCH_VENV)/bin/python benchmarks/label_free.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
