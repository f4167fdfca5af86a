# Targets match the README. Every target installs what it needs first.
PY := .venv/bin/python

.PHONY: install index run test test-fast lint bench calibrate clean

install:
	bash scripts/install.sh

index: install
	$(PY) -m ingest

run: index
	$(PY) app.py

test: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: index
	$(PY) -m eval.bench --ann

calibrate: index
	$(PY) -m eval.calibrate

clean:
	rm -rf data .venv
