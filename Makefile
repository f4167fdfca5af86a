# Targets match the README. Every target installs what it needs first.
PY := .venv/bin/python

.PHONY: install index run test test-fast lint bench bench-scale bench-backends cmrc fit heldout noise eval eval-table eval-baseline clean

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
	$(PY) -m eval.bench

# Ingest speed, index size, memory, cold latency and ANN recall at real sizes (~40 min).
bench-scale: install
	$(PY) -m eval.bench --scale 10000,50000,200000 --out data/eval/scale.json

# The storage backends side by side: local (FAISS + bm25s) and Milvus Lite (~25 min).
bench-backends: install
	$(PY) -m eval.bench --backend local,milvus --sizes 10000,100000 --scale-questions 200 \
		--out data/eval/backends.json

# The second corpus (CMRC 2018 trial, from ../shared/datasets): documents, index, set.
cmrc: install
	$(PY) -m eval.cmrc
	$(PY) -m ingest data/cmrc/docs --index-dir data/cmrc/index --quiet

# Refit the answer models (answer/models/*.json) on the fitting split of both corpora.
fit: index cmrc
	$(PY) -m eval.fit

EVAL_SET := eval/sets/acftu2024.jsonl

eval: index
	$(PY) -m eval run $(EVAL_SET) --mode all

eval-table: install
	$(PY) -m eval table $(EVAL_SET) --chunk-sizes 300,500 --readme README.md

# The fitting split, each question answered by a reader not fitted on it.
heldout: index cmrc
	$(PY) -m eval.heldout --repeats 3

# How far the held-out figures move by themselves when a few fitting questions move.
noise: index cmrc
	$(PY) -m eval.noise

# Only after a change that improves the metrics: the gate test reads this file.
eval-baseline: index cmrc
	$(PY) -m eval run $(EVAL_SET) --mode hybrid --save-baseline eval/baselines.json
	$(PY) -m eval run eval/sets/cmrc2018.jsonl --index-dir data/cmrc/index --split eval \
		--mode hybrid --save-baseline eval/baselines-cmrc.json

clean:
	rm -rf data .venv
