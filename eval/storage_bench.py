"""`python -m eval.bench --backend local,milvus --sizes 10000,100000`: the
storage backends side by side on the same passages and vectors.

For each size the real corpus's chunks and vectors are replicated to N as in
the scale benchmark (eval/scale.py: real text, real vectors with small
perturbations), then, per backend, in fresh processes:

* write - the passages with their chunk and sentence vectors (embedded
          beforehand: the model's rate is the same for every backend and is
          the scale table's) written from nothing through the Storage
          protocol, as a build does: chunks/s and disk size; then recall@10
          of the backend's dense search against exact search over the same
          vectors, for the real questions' vectors;
* serve - open the collection (RSS after opening), then each real question
          searched once, hybrid, as the app does (query vectors computed
          beforehand, so the times are the backend's): p50/p95, RSS after.

Milvus here is Milvus Lite, embedded: it runs inside the serving process,
so its memory is in that RSS. A Milvus server (HNSW, its own machine) would
give other figures; none could be run here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.scale import percentile, questions, real_corpus, replicated, rss_mb
from index.build import update_index
from index.collection import Query
from index.embedder import load_embedder
from index.searcher import Searcher
from index.storage import storage_for
from index.store import load_index
from index.vector_cache import Embedded
from settings import PROJECT_ROOT, Settings


def _settings(root: Path, backend: str, n: int, model: str) -> Settings:
    return Settings(data_dir=root / f"{backend}-{n}", backend=backend, model=model)


def write(root: Path, backend: str, n: int) -> dict:
    real = load_index(root / "real")
    chunks, vectors, sentences = replicated(real, n)
    settings = _settings(root, backend, n, real.manifest["model"]["id"])
    manifest = json.loads(json.dumps(real.manifest))
    manifest["counts"]["chunks"] = n
    embedded = {c.id: Embedded(v, s) for c, v, s in zip(chunks, vectors, sentences, strict=True)}
    storage = storage_for(settings)
    started = time.perf_counter()
    storage.write(manifest, chunks, embedded)
    seconds = time.perf_counter() - started
    disk = sum(f.stat().st_size for f in settings.data_dir.rglob("*") if f.is_file())

    collection = storage.open()
    queries = np.load(root / "queries.npy")
    exact = np.argsort(-(vectors @ queries.T), axis=0)[:10].T
    found = []
    for q, truth in zip(queries, exact, strict=True):
        got = {cid for cid, _ in collection.search_dense(q, 10)}
        found.append(len(got & {chunks[i].id for i in truth}) / 10)
    return {
        "backend": backend,
        "chunks": n,
        "dense_kind": manifest["dense"]["kind"],
        "write_s": round(seconds, 1),
        "write_chunks_per_s": round(n / seconds, 1),
        "disk_mb": round(disk / 2**20),
        "recall@10": round(float(np.mean(found)), 4),
    }


def serve(root: Path, backend: str, n: int, limit: int) -> dict:
    model = load_index(root / "real").manifest["model"]["id"]
    settings = _settings(root, backend, n, model)
    before = rss_mb()
    collection = storage_for(settings).open()
    out = {"rss_before_open_mb": before, "rss_after_open_mb": rss_mb()}
    searcher = Searcher(collection, None, settings)  # queries come embedded
    texts = questions()[:limit]
    vectors = np.load(root / "queries.npy")
    times = []
    for text, vector in zip(texts, vectors, strict=False):
        query = Query(text, vector, "hybrid", settings.top_k, settings.candidates)
        started = time.perf_counter()
        searcher.search(query)
        times.append((time.perf_counter() - started) * 1000)
    out.update(
        questions=len(times),
        search_p50_ms=percentile(times, 50),
        search_p95_ms=percentile(times, 95),
        rss_after_all_mb=rss_mb(),
    )
    return out


def _in_process(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "eval.storage_bench", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    if done.returncode:
        raise RuntimeError(f"eval.storage_bench {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_backends(settings: Settings, backends: list[str], sizes: list[int], limit: int, echo):
    results: dict = {"backends": backends, "sizes": sizes, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        echo("the real corpus: ingest with the default model …")
        corpus = real_corpus(root / "corpus")
        update_index(settings.model_copy(update={"index_dir": root / "real"}), [corpus])
        embedder = load_embedder(settings)
        asked = questions()[:limit]
        np.save(root / "queries.npy", np.stack([embedder.embed_query(q) for q in asked]))
        for n in sizes:
            for backend in backends:
                echo(f"{backend}, {n} chunks: write …")
                row = _in_process("write", str(root), backend, str(n))
                echo(f"{backend}, {n} chunks: serve …")
                row.update(_in_process("serve", str(root), backend, str(n), str(limit)))
                results["rows"].append(row)
                echo(json.dumps(row, ensure_ascii=False))
    return results


def markdown(results: dict) -> str:
    lines = [
        "| 后端 | 段落数 | 向量索引 | 写入 段/秒 | 磁盘 MB | 打开后 RSS MB | 检索后 RSS MB "
        "| 检索 p50/p95 ms | recall@10 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['backend']} | {r['chunks']:,} | {r['dense_kind']} | {r['write_chunks_per_s']} "
            f"| {r['disk_mb']} | {r['rss_after_open_mb']:.0f} | {r['rss_after_all_mb']:.0f} "
            f"| {r['search_p50_ms']:.1f} / {r['search_p95_ms']:.1f} | {r['recall@10']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # one half of one measurement, in its own process
    step, root, backend, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    if step == "write":
        print(json.dumps(write(root, backend, n)))
    else:
        print(json.dumps(serve(root, backend, n, int(sys.argv[5]))))
