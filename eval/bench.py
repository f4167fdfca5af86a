"""`python -m eval.bench`: how fast is the retrieval core, and where does the time go?

Four measurements, all in one process so the ratios compare like with like:

* ingest   - the shipped corpus copied N times, built from scratch R times:
             chunks/s and the share of build time spent inside the model;
* search   - every question of a set, R times per mode: p50/p95 of the whole
             search and of each stage (query embedding, FAISS, BM25, fusion),
             against the p95 of embedding the query alone;
* quality  - hit@1 and MRR@10 of dense, BM25 and hybrid (RRF) on the same set.

`--scale 10000,50000,200000` runs the scale benchmark instead (eval/scale.py):
ingest speed, index size, memory, cold answer latency and ANN recall by size.
`--backend local,milvus --sizes 10000,100000` compares the storage backends
(eval/storage_bench.py): write chunks/s, search p50/p95, recall@10, RSS.
`--forward 1,2,4,8,16,32` measures the model alone by forward-pass batch size,
default runtime against PyTorch (eval/forward_bench.py).

Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from eval.questions import EvalQuestion, load_set
from index.build import update_index
from index.embedder import load_embedder
from index.searcher import Searcher, Timings
from settings import PROJECT_ROOT, SHIPPED_CORPUS, load_settings

DEFAULT_SET = PROJECT_ROOT / "eval" / "sets" / "smoke.jsonl"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0


def bench_ingest(settings, embedder, copies: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp, "corpus")
        corpus.mkdir()
        for i in range(copies):
            for f in SHIPPED_CORPUS.iterdir():
                shutil.copy(f, corpus / f"{f.stem}-{i}{f.suffix}")
        runs = []
        for r in range(repeats):
            run_settings = settings.model_copy(update={"index_dir": Path(tmp, f"index-{r}")})
            report = update_index(run_settings, [corpus], embedder=embedder, progress=False)
            runs.append((report.seconds, report.embed_seconds, report.chunks))
    total = statistics.median(s for s, _, _ in runs)
    model = statistics.median(m for _, m, _ in runs)
    chunks = runs[0][2]
    return {
        "files": copies,
        "chunks": chunks,
        "repeats": repeats,
        "median_build_s": round(total, 3),
        "median_model_s": round(model, 3),
        "chunks_per_s": round(chunks / total, 2),
        "model_share": round(model / total, 4),
        "overhead_share": round(1 - model / total, 4),
        "first_run_overhead_share": round(1 - runs[0][1] / runs[0][0], 4),
    }


def bench_search(searcher: Searcher, questions: list[str], repeats: int) -> dict:
    embed_only = []
    for _ in range(repeats):
        for q in questions:
            started = time.perf_counter()
            searcher.embedder.embed_query(q)
            embed_only.append((time.perf_counter() - started) * 1000)
    out = {
        "queries": len(questions) * repeats,
        "embed_only_p95_ms": round(percentile(embed_only, 95), 2),
        "embed_only_p50_ms": round(percentile(embed_only, 50), 2),
    }
    for mode in ("hybrid", "dense", "bm25"):
        totals, stages = [], {"embed": [], "dense": [], "bm25": [], "fusion": []}
        for _ in range(repeats):
            for q in questions:
                timings = Timings()
                started = time.perf_counter()
                searcher.search(q, k=5, mode=mode, timings=timings)
                totals.append((time.perf_counter() - started) * 1000)
                for name in stages:
                    stages[name].append(getattr(timings, name))
        out[mode] = {
            "p50_ms": round(percentile(totals, 50), 2),
            "p95_ms": round(percentile(totals, 95), 2),
            "p95_over_embed_p95": round(percentile(totals, 95) / out["embed_only_p95_ms"], 3),
            **{f"{n}_p50_ms": round(percentile(v, 50), 3) for n, v in stages.items()},
            **{f"{n}_p95_ms": round(percentile(v, 95), 3) for n, v in stages.items()},
        }
    return out


def bench_quality(searcher: Searcher, questions: tuple[EvalQuestion, ...]) -> dict:
    answerable = [q for q in questions if q.answerable]
    out = {"questions": len(answerable)}
    for mode in ("hybrid", "dense", "bm25"):
        hit1, rr, misses = 0, 0.0, []
        for question in answerable:
            hits = searcher.search(question.question, k=10, mode=mode)
            rank = next(
                (i + 1 for i, h in enumerate(hits) if question.is_relevant(h.chunk.text)), None
            )
            hit1 += rank == 1
            rr += 1 / rank if rank else 0.0
            if rank != 1:
                misses.append(question.id)
        out[mode] = {
            "hit@1": round(hit1 / len(answerable), 3),
            "mrr@10": round(rr / len(answerable), 3),
            "not_first": misses,
        }
    return out


@click.command(help="检索核心的性能基准：导入吞吐、检索延迟（分阶段）、检索质量、峰值内存。")
@click.option("--copies", default=5, show_default=True, help="导入基准中语料复制的份数")
@click.option("--repeats", default=3, show_default=True, help="每项重复次数（取中位数）")
@click.option(
    "--questions",
    "question_file",
    type=click.Path(path_type=Path, exists=True),
    default=DEFAULT_SET,
    show_default=True,
)
@click.option(
    "--scale",
    help="改为规模基准：逗号分隔的段落数，例如 10000,50000,200000（见 eval/scale.py）",
)
@click.option("--scale-questions", default=300, show_default=True, help="规模基准每个规模提问数")
@click.option(
    "--backend",
    "backends",
    help="改为存储后端对比：逗号分隔，例如 local,milvus（见 eval/storage_bench.py）",
)
@click.option(
    "--sizes", default="10000,100000", show_default=True, help="后端对比的段落数，逗号分隔"
)
@click.option("--forward", help="按每次前向的段数测模型速度，逗号分隔，如 1,2,4,8,16,32")
@click.option("--forward-passages", default=256, show_default=True, help="前向速度基准的段落数")
@click.option("--out", type=click.Path(path_type=Path), help="把结果写成 JSON 文件")
def main(
    copies: int,
    repeats: int,
    question_file: Path,
    scale: str | None,
    scale_questions: int,
    backends: str | None,
    sizes: str,
    forward: str | None,
    forward_passages: int,
    out: Path | None,
) -> None:
    settings = load_settings()
    if forward:
        from eval.forward_bench import markdown, run_forward

        batches = _counts(forward, "--forward")
        results = run_forward(settings, batches, forward_passages, repeats, _progress)
        _report(markdown(results), results, out)
        return
    if backends:
        from eval.storage_bench import markdown, run_backends

        chosen = [b.strip() for b in backends.split(",") if b.strip()]
        unknown = set(chosen) - {"local", "milvus"}
        if unknown:
            raise click.BadParameter(
                f"未知的后端：{'、'.join(sorted(unknown))}（可选 local、milvus）"
            )
        counts = _counts(sizes, "--sizes")
        results = run_backends(settings, chosen, counts, scale_questions, _progress)
        _report(markdown(results), results, out)
        return
    if scale:
        from eval.scale import markdown, run_scale

        counts = _counts(scale, "--scale")
        results = run_scale(settings, counts, scale_questions, _progress, repeats)
        _report(markdown(results), results, out)
        return
    started = time.perf_counter()
    embedder = load_embedder(settings)
    results: dict = {
        "model": embedder.info.id,
        "model_load_s": round(time.perf_counter() - started, 2),
    }
    results["ingest"] = bench_ingest(settings, embedder, copies, repeats)
    with tempfile.TemporaryDirectory() as tmp:
        s = settings.model_copy(update={"index_dir": Path(tmp)})
        update_index(s, [SHIPPED_CORPUS], embedder=embedder, progress=False)
        searcher = Searcher.open(s, embedder)
        questions = load_set(question_file).questions
        results["search"] = bench_search(searcher, [q.question for q in questions], repeats)
        results["quality"] = bench_quality(searcher, questions)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = json.dumps(results, ensure_ascii=False, indent=2)
    click.echo(text)
    if out:
        out.write_text(text + "\n", encoding="utf-8")


def _progress(message: str) -> None:
    click.echo(message, err=True)  # stderr: stdout carries only the table


def _counts(text: str, option: str) -> list[int]:
    """ "1,2,4" -> [1, 2, 4]; anything else is a one-line usage error."""
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise click.BadParameter(f"{option} 需要逗号分隔的正整数，例如 1,2,4（收到 {text!r}）")
    return counts


def _report(table: str, results: dict, out: Path | None) -> None:
    """Print a benchmark's table; keep its full results as JSON if asked."""
    click.echo(table)
    if out:
        out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
