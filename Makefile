# Two commands for a fresh machine: `make demo` runs Bidcast, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

.PHONY: install demo serve test test-unit bench clean

$(READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(READY)

install: $(READY)

demo: $(READY)
	$(BIN)/bidcast db upgrade
	$(BIN)/bidcast seed-demo
	$(BIN)/bidcast serve

serve: $(READY)
	$(BIN)/bidcast serve

test: $(READY)
	$(BIN)/python -m pytest

test-unit: $(READY)
	$(BIN)/python -m pytest tests/unit -q

bench: $(READY)
	$(BIN)/python bench/bids.py --quick

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
