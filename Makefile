# The two commands of the README:
#   make demo   set up the environment and run the main job on the bundled demo data
#   make test   set up the environment and run ruff, mypy and the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
DEMO_WS ?= .demo-workspace
WB := .venv/bin/workbench
PY := .venv/bin/python

.PHONY: help env demo test lint typecheck pytest bench clean

help:
	@echo "make demo   - set up, then init + ingest + split + check + status on datasets/aquarium-mini"
	@echo "make test   - set up, then ruff, mypy and pytest"
	@echo "make env    - only set up .venv (cached in \$$WORKBENCH_CACHE or ~/.cache/workbench)"
	@echo "make bench  - run the benchmarks in benchmarks/"

env:
	@bash .ci/env.sh

demo: env
	@if [ -d $(DEMO_WS)/.fiftyone-db ]; then $(PY) -m workbench.store.mongod --stop $(DEMO_WS)/.fiftyone-db; fi
	rm -rf $(DEMO_WS)
	$(WB) init $(DEMO_WS) --name aquarium-demo
	$(WB) ingest datasets/aquarium-mini --format yolo --source aquarium-mini -w $(DEMO_WS)
	$(WB) split -w $(DEMO_WS)
	$(WB) check -w $(DEMO_WS)
	$(WB) status -w $(DEMO_WS)
	@echo
	@echo "Browse it in the FiftyOne App:  $(WB) app -w $(DEMO_WS)"

lint: env
	.venv/bin/ruff check .

typecheck: env
	$(PY) -m mypy

pytest: env
	$(PY) -m pytest

test: env lint typecheck pytest

bench: env
	$(PY) benchmarks/bench_ingest.py

clean:
	rm -rf .venv $(DEMO_WS) .pytest_cache .mypy_cache .ruff_cache
