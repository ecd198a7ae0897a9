# Two entry points for a new user: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Single-threaded numeric libraries: deterministic results and no oversubscription on 2 cores.
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1

.PHONY: setup run test lint ui bench mutate clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,k8s]"
	touch $@

run: setup
	$(BIN)/pmx run

test: setup
	$(BIN)/python -m pytest -q -n 2

# The linter and the formatter's check (config in pyproject.toml [tool.ruff]); CI runs it before the tests.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ui: setup
	$(BIN)/pmx ui

bench: setup
	$(BIN)/python -m benchmarks.run_all

# Mutation testing of the quant core ([tool.mutmut] in pyproject.toml); not in CI: about 5 minutes with
# one worker; prints the kill score per file. From scratch each time: mutmut keeps a survivor's cached
# result when only the tests changed.
mutate: setup
	rm -rf mutants
	$(BIN)/mutmut run --max-children 1
	$(BIN)/python -m benchmarks.mutation_scores

clean:
	rm -rf $(VENV) data
