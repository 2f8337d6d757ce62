# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: the CPU wheel (a plain `torch` requirement would pull a multi-GB CUDA build).
TORCH ?= torch==2.13.0
DEEPSPEED ?= deepspeed==0.19.8

.PHONY: demo test install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

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

demo: $(VENV)/.installed
	HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/globmed demo --sources sample --workdir demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

clean:
	rm -rf demo .pytest_cache
