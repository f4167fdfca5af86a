"""`python -m eval.bench --forward 1,2,4,8,16,32`: passages per second of the
model alone, by forward-pass batch size, on the default runtime and on
PyTorch float32, in one run.

The passages are real: the chunks of the shipped article and of the CMRC
trial articles (`eval/scale.py`'s corpus), the first `limit` of them, each
embedded with its in-context sentence vectors exactly as ingest does
(`Embedder.embed_chunks`). The configurations take turns, `rounds` times, so a
busy spell on a shared machine hits them all; the table reports medians.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from index.build import shifted_spans
from index.embedder import load_embedder
from ingest.pipeline import collect_files, ingest_file
from settings import Settings

_TORCH_BATCHES = (8, 32)  # 32: sentence-transformers' default and ours before


def real_chunks(settings: Settings, limit: int) -> list:
    from eval.scale import real_corpus

    with tempfile.TemporaryDirectory() as tmp:
        files = collect_files([real_corpus(Path(tmp, "corpus"))])
        chunks = []
        for path in files:
            chunks += ingest_file(path, settings.chunk_size, settings.chunk_overlap).chunks
            if len(chunks) >= limit:
                break
    return chunks[:limit]


def run_forward(settings: Settings, batches: list[int], limit: int, rounds: int, echo) -> dict:
    chunks = real_chunks(settings, limit)
    texts = [c.index_text for c in chunks]
    spans = [shifted_spans(c) for c in chunks]
    configs = [("auto", b) for b in batches] + [("torch", b) for b in _TORCH_BATCHES]
    embedders = {
        (runtime, b): load_embedder(
            settings.model_copy(update={"runtime": runtime, "forward_batch_size": b})
        )
        for runtime, b in configs
    }
    rates: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    for round_ in range(rounds):
        for config, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed_chunks(texts, spans)
            rates[config].append(len(texts) / (time.perf_counter() - started))
            echo(
                f"round {round_ + 1}: {embedder.info.runtime} × {config[1]}: {rates[config][-1]:.1f}/s"
            )
    rows = [
        {
            "runtime": embedders[c].info.runtime,
            "forward_batch": c[1],
            "passages_per_s": round(statistics.median(r), 2),
            "all": [round(x, 2) for x in r],
        }
        for c, r in rates.items()
    ]
    return {"passages": len(texts), "rounds": rounds, "threads": settings.threads, "rows": rows}


def markdown(results: dict) -> str:
    slowest = min(r["passages_per_s"] for r in results["rows"])
    lines = [
        f"模型本身（真实语料 {results['passages']} 段，含句向量，{results['threads']} 线程，"
        f"{results['rounds']} 轮取中位数）：",
        "",
        "| 运行时 | 每次前向段数 | 段/秒 | 相对最慢 |",
        "|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['runtime']} | {r['forward_batch']} | {r['passages_per_s']} "
            f"| {r['passages_per_s'] / slowest:.2f} |"
        )
    return "\n".join(lines)
