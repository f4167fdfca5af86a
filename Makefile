# Targets match the README. Every target installs what it needs first.
PY := .venv/bin/python

.PHONY: install index run test test-fast lint bench clean

install:
	bash scripts/install.sh

index: install
	$(PY) -m ingest

run: index
	$(PY) -m index.search "北京的双沟通一共开了多少场职工沟通会？" -k 3

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
	$(PY) -m eval.bench

clean:
	rm -rf data .venv
