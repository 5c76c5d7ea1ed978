# taxinav — two commands after cloning: `make demo` and `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark-installed
LAB_STAMP := $(VENV)/.lab-installed
WEB_STAMP := web/node_modules/.installed
LEAFLET_VERSION := 1.9.4
LEAFLET_DIR := src/taxinav/serve/web/vendor/leaflet

# A working Python 3.12: on PATH, or under pyenv's versions folder, or common system paths.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 \
            /usr/local/bin/python3.12 /usr/bin/python3.12; do \
            if [ -x "$$(command -v $$p 2>/dev/null)" ] && \
               $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; \
            then echo $$p; break; fi; done)

.PHONY: demo test lint typecheck unit bench clean lock rules vendor-leaflet system

$(STAMP): pyproject.toml requirements.lock
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: taxinav needs Python 3.12 (none found on PATH or in ~/.pyenv/versions)."; \
	  echo "Install it, e.g. 'apt-get install python3.12 python3.12-venv' or 'pyenv install 3.12',"; \
	  echo "or point to one: make PYTHON=/path/to/python3.12 test"; exit 1; fi
	@echo "using $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . \
	  || $(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# The browser driver for the web map's end-to-end test (the map's library, Leaflet, is vendored
# in the package: the demo and the service need no npm).
$(WEB_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "error: the web map's browser test needs" \
	  "Node.js and npm (e.g. apt-get install nodejs npm)"; exit 1; }
	cd web && npm ci --no-audit --no-fund
	@touch $(WEB_STAMP)

demo: $(STAMP)
	$(BIN)/taxinav demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# Spark is only for the feature-parity test; the demo does not need it.
$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(BIN)/python -m pip install --quiet -r requirements-spark.lock
	@touch $(SPARK_STAMP)

# JupyterLab (the lab extra) is only for `taxinav lab` and its test; the demo does not need it.
$(LAB_STAMP): $(STAMP) requirements-lab.lock
	$(BIN)/python -m pip install --quiet -r requirements-lab.lock
	@touch $(LAB_STAMP)

# Debian packages the tests need (installed when missing and run as root).
system:
	@bash scripts/system-deps.sh

unit: system $(STAMP) $(SPARK_STAMP) $(LAB_STAMP) $(WEB_STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/forecast.py
	$(BIN)/python benchmarks/sim.py
	$(BIN)/python benchmarks/routing.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/service.py

# The Prometheus alerting rules and their unit tests (promtool: Debian's package prometheus);
# tests/test_ops_rules.py runs the same in `make test`.
rules:
	promtool check rules ops/prometheus/taxinav.rules.yml
	cd ops/prometheus && promtool test rules taxinav.rules.test.yml

# Re-vendor Leaflet from the npm registry (run by a maintainer, not by CI).
vendor-leaflet:
	rm -rf /tmp/taxinav-leaflet && mkdir -p /tmp/taxinav-leaflet
	cd /tmp/taxinav-leaflet && npm pack --silent leaflet@$(LEAFLET_VERSION) && tar xzf leaflet-*.tgz
	rm -rf $(LEAFLET_DIR)/images $(LEAFLET_DIR)/leaflet.js $(LEAFLET_DIR)/leaflet.css
	mkdir -p $(LEAFLET_DIR)/images
	cp /tmp/taxinav-leaflet/package/dist/leaflet.js /tmp/taxinav-leaflet/package/dist/leaflet.css \
	  /tmp/taxinav-leaflet/package/LICENSE $(LEAFLET_DIR)/
	cp /tmp/taxinav-leaflet/package/dist/images/* $(LEAFLET_DIR)/images/

# Regenerate the lock from pyproject's ranges (run by a maintainer, not by CI).
lock:
	rm -rf /tmp/taxinav-lock && $(PYTHON) -m venv /tmp/taxinav-lock
	/tmp/taxinav-lock/bin/pip install --quiet --upgrade pip
	/tmp/taxinav-lock/bin/pip install --quiet ".[dev]" hatchling editables
	/tmp/taxinav-lock/bin/pip freeze --exclude-editable | grep -v '^taxinav' > requirements.lock

clean:
	rm -rf $(VENV) var
