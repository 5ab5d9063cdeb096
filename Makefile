# The two commands of the README:
#   make baseline   create the environment and run the baseline batch (prints its figures' path)
#   make test       create the environment and run the linters and the test suite
# Both create .venv with a Python >= 3.12 (found by tools/find-python; override with PYTHON=...).

VENV ?= .venv
PYTHON ?= $(shell tools/find-python)
BIN := $(VENV)/bin
RUNS ?= 100

.PHONY: baseline test env clean

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: no Python >= 3.12 (see the message above)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

baseline: env
	$(BIN)/multivector run scenarios/baseline.toml --runs $(RUNS)

test: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
