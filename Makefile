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

HLSJS := $(VENV)/npm/node_modules/hls.js/dist/hls.min.js

# hls.js plays the demo's HLS stream in browsers without native HLS (optional: needs npm).
$(HLSJS):
	-command -v npm >/dev/null && npm install --silent --no-audit --no-fund --prefix $(VENV)/npm hls.js@1.7.4

demo: $(READY) $(HLSJS)
	$(BIN)/bidcast demo

serve: $(READY)
	$(BIN)/bidcast serve

# The browser tests drive Debian's chromium; install it when it is missing (needs root and apt).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	-command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null

test: $(READY) $(CHROMIUM)
	$(BIN)/python -m pytest

test-unit: $(READY)
	$(BIN)/python -m pytest tests/unit -q

bench: $(READY)
	$(BIN)/pip install --quiet -e '.[test,profile]'  # py-spy: the show bench says where a worker's CPU goes
	$(BIN)/python bench/bids.py --quick
	$(BIN)/python bench/fanout.py --quick

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
