# Two set-up commands for a fresh machine: `make demo` (the main job on synthetic data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fercomp-installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fercomp data synth reports/demo/fer2013.csv --seed 0
	$(BIN)/fercomp data info reports/demo/fer2013.csv

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data_load.py

clean:
	rm -rf $(VENV) reports/demo
