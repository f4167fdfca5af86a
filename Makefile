# Targets match the README. Every target installs what it needs first.
PY := .venv/bin/python

.PHONY: install index run test test-fast lint bench calibrate eval eval-table eval-baseline clean

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

EVAL_SET := eval/sets/acftu2024.jsonl

eval: index
	$(PY) -m eval run $(EVAL_SET) --mode all

eval-table: install
	$(PY) -m eval table $(EVAL_SET) --chunk-sizes 300,500 --readme README.md

# Only after a change that improves the metrics: the gate test reads this file.
eval-baseline: index
	$(PY) -m eval run $(EVAL_SET) --mode hybrid --save-baseline eval/baselines.json

clean:
	rm -rf data .venv
