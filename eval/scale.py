"""`python -m eval.bench --scale 10000,50000,200000`: speed and memory at the
sizes users bring.

What is real and what is replicated:

* ingest  - the real corpora (the shipped article and every CMRC 2018 trial
            article, about 600 chunks) ingested end to end from files, on the
            default runtime and on PyTorch float32 (the previous default),
            model loaded beforehand, alternating for `repeats` rounds: the
            median run's chunks/s and share of time outside the model, and
            the ratio of the medians;
* scale   - for each size N, the real chunks with their real chunk and
            sentence vectors, replicated to N with small perturbations
            (Gaussian noise, cosine to the original about 0.98; embedding
            200,000 chunks here would take hours): index build time (FAISS,
            BM25, files), disk size, and recall@10 of the dense index against
            exact search for the real questions' vectors, and again with
            three times the noise (cosine about 0.86); beside them, the same
            recall over the real index's distinct chunk and sentence vectors
            alone, nothing replicated;
* serving - a fresh process per size loads the index and the model (RSS after
            load), then answers each real question once, as `/api/ask` does
            (AnswerService.answer; cold: no question repeats): p50/p95 of the
            answer, of search alone and of the query embedding inside the
            answer (and p95 of the same question embedded again), and RSS after
            a third and after all of the questions (it must not grow); then,
            on as many other questions, the p95 of each stage timed apart
            (analysis, query embedding, search, reader, answerability; in the
            JSON output as stage_p95_ms).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.questions import load_set
from index import dense, store
from index.bm25 import Bm25Index
from index.build import BuildReport, update_index
from index.embedder import load_embedder
from index.store import LoadedIndex, load_index
from ingest.records import Chunk
from settings import PROJECT_ROOT, SHIPPED_CORPUS, Settings

CMRC_SOURCE = PROJECT_ROOT.parent / "shared" / "datasets" / "cmrc2018-trial" / "cmrc2018_trial.json"
QUESTION_SETS = ("acftu2024.jsonl", "cmrc2018.jsonl")
_NOISE = 0.2  # total noise norm per vector: cosine to the original ≈ 1/sqrt(1 + 0.04)


def rss_mb() -> float:
    """The current resident set size (not the peak), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def real_corpus(folder: Path) -> Path:
    """The shipped article and every CMRC trial article, one file each."""
    from eval.cmrc import write_document

    folder.mkdir(parents=True, exist_ok=True)
    for f in SHIPPED_CORPUS.iterdir():
        shutil.copy(f, folder / f.name)
    if CMRC_SOURCE.is_file():
        data = json.loads(CMRC_SOURCE.read_text(encoding="utf-8"))["data"]
        for number, article in enumerate(data):
            for paragraph in article["paragraphs"]:
                write_document(
                    folder, article["id"], article["title"], paragraph["context"], number
                )
    return folder


def questions() -> list[str]:
    found = []
    for name in QUESTION_SETS:
        path = PROJECT_ROOT / "eval" / "sets" / name
        if path.is_file():
            found += [q.question for q in load_set(path).questions]
    return list(dict.fromkeys(found))


def bench_ingest(settings: Settings, corpus: Path, runtime: str, workers: int) -> dict:
    """One end-to-end build of the real corpus from files (model preloaded)."""
    run = settings.model_copy(update={"runtime": runtime, "ingest_workers": workers})
    started = time.perf_counter()
    embedder = load_embedder(run)
    load_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        run = run.model_copy(update={"index_dir": Path(tmp)})
        report = BuildReport(Path(tmp))
        update_index(run, [corpus], embedder=embedder, progress=False, report=report)
    return {
        "runtime": embedder.info.runtime,
        "workers": workers,
        "chunks": report.chunks,
        "model_load_s": round(load_s, 2),
        "build_s": round(report.seconds, 2),
        "model_s": round(report.embed_seconds, 2),
        "chunks_per_s": round(report.chunks / report.seconds, 2),
        "outside_model_share": round(report.outside_model_share, 4),
    }


def perturbed(rows: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Unit rows moved by Gaussian noise of total norm about `noise`, renormalised."""
    sigma = noise / np.sqrt(rows.shape[1])
    noisy = rows.astype(np.float32) + rng.normal(0, sigma, rows.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def replicated(real: LoadedIndex, n: int, seed: int = 0):
    """n chunks made from the real index's chunks, with their chunk and
    sentence vectors perturbed (cosine to the original about 0.98)."""
    rng = np.random.default_rng(seed)
    dim = real.vectors.shape[1]

    def perturb(rows: np.ndarray) -> np.ndarray:
        return perturbed(rows, rng, _NOISE)

    chunks, vectors, sentences = [], np.empty((n, dim), dtype=np.float32), []
    for i in range(n):
        row = i % len(real.chunks)
        copy = i // len(real.chunks)
        c = real.chunks[row]
        chunks.append(
            Chunk(
                f"{c.id}-{copy}",
                c.text,
                c.document,
                f"{c.source}#{copy}",
                c.organisation,
                c.title,
                c.section,
                c.ordinal,
                c.entities,
            )
        )
        sentences.append(perturb(real.sentences_of(row)).astype(np.float16))
    for start in range(0, n, len(real.chunks)):
        end = min(start + len(real.chunks), n)
        vectors[start:end] = perturb(real.vectors.rows(0, end - start))
    return chunks, vectors, sentences


def replicate(index_dir: Path, out_dir: Path, n: int, settings: Settings, seed: int = 0) -> dict:
    """Write an index of n chunks made from the real index's chunks and vectors."""
    real = load_index(index_dir)
    chunks, vectors, sentences = replicated(real, n, seed)
    started = time.perf_counter()
    params = dense.DenseParams(settings.ann_threshold, settings.ivf_nprobe)
    faiss_index = dense.build_faiss(vectors, params)
    faiss_s = time.perf_counter() - started
    bm25 = Bm25Index.build(
        [c.index_text for c in chunks],
        settings.bm25_k1,
        settings.bm25_b,
        {c.organisation for c in chunks if c.organisation},
    )
    bm25_s = time.perf_counter() - started - faiss_s
    manifest = dict(real.manifest)
    manifest["dense"] = dict(manifest["dense"], kind=dense.kind_of(faiss_index))
    manifest["counts"] = dict(manifest["counts"], chunks=n)
    store.write_index(out_dir, manifest, chunks, vectors, sentences, faiss_index, bm25)
    build = (out_dir / "current").resolve()
    return {
        "chunks": n,
        "dense_kind": dense.kind_of(faiss_index),
        "build_s": round(time.perf_counter() - started, 1),
        "faiss_build_s": round(faiss_s, 1),
        "bm25_build_s": round(bm25_s, 1),
        "disk_mb": round(sum(f.stat().st_size for f in build.rglob("*") if f.is_file()) / 2**20),
    }


def recall_at_10(index_dir: Path, settings: Settings, query_vectors: np.ndarray) -> float:
    """The dense index's top 10 against exact search over the same vectors."""
    loaded = load_index(index_dir, settings.ivf_nprobe)
    return _recall(loaded.faiss, loaded.vectors.all(), query_vectors)


def real_vector_recall(index_dir: Path, settings: Settings, query_vectors: np.ndarray) -> dict:
    """recall@10 of the inverted file (built as above the threshold, whatever
    the count) over real text vectors only: every distinct chunk and sentence
    vector of the real index, nothing replicated."""
    real = load_index(index_dir)
    sentences = [real.sentences_of(row) for row in range(len(real.chunks))]
    vectors = np.concatenate([real.vectors.all(), *sentences]).astype(np.float32)
    vectors = np.unique(vectors, axis=0)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = dense.build_faiss(vectors, dense.DenseParams(1, settings.ivf_nprobe))
    return {
        "vectors": len(vectors),
        "lists": index.nlist,
        "nprobe": index.nprobe,
        "recall@10": _recall(index, vectors, query_vectors),
    }


def noisy_recall(
    index_dir: Path, n: int, settings: Settings, query_vectors: np.ndarray, seed: int = 1
) -> float:
    """recall@10 of the dense index over n copies of the real chunk vectors with
    three times the replication noise (cosine to the original about 0.86): the
    copies are no longer near-duplicates that an inverted file finds together."""
    base = load_index(index_dir).vectors.all()
    rng = np.random.default_rng(seed)
    vectors = perturbed(base[np.arange(n) % len(base)], rng, 3 * _NOISE)
    index = dense.build_faiss(
        vectors, dense.DenseParams(settings.ann_threshold, settings.ivf_nprobe)
    )
    return _recall(index, vectors, query_vectors)


def _recall(index, vectors: np.ndarray, query_vectors: np.ndarray) -> float:
    exact = dense.build_faiss(vectors, dense.DenseParams(10**12))
    found = []
    for q in query_vectors:
        truth = {r for r, _ in dense.top(exact, q, 10)}
        got = {r for r, _ in dense.top(index, q, 10)}
        found.append(len(truth & got) / 10)
    return round(float(np.mean(found)), 4)


def serve(index_dir: Path, limit: int) -> dict:
    """Run in a fresh process: load, then answer each question once."""
    from answer.service import AnswerService

    started = time.perf_counter()
    settings = Settings(index_dir=index_dir)
    service = AnswerService.open(settings)
    out = {"load_s": round(time.perf_counter() - started, 2), "rss_after_load_mb": rss_mb()}
    asked = questions()[:limit]
    embeddings = _time_query_embeddings(service.searcher.embedder)
    answer_ms, embed_ms, search_ms, again_ms = [], [], [], []
    for i, q in enumerate(asked):
        before = len(embeddings)
        t0 = time.perf_counter()
        service.answer(q)
        t1 = time.perf_counter()
        embed_ms.append(sum(embeddings[before:]))  # the embedding inside this cold answer
        query = service.searcher.query(q)  # the same question embedded again
        t2 = time.perf_counter()
        service.searcher.search(query)
        t3 = time.perf_counter()
        answer_ms.append((t1 - t0) * 1000)
        again_ms.append((t2 - t1) * 1000)
        search_ms.append((t3 - t2) * 1000)
        if i + 1 == len(asked) // 3:
            out["rss_after_third_mb"] = rss_mb()
    out.update(
        questions=len(asked),
        answer_p50_ms=percentile(answer_ms, 50),
        answer_p95_ms=percentile(answer_ms, 95),
        search_p95_ms=percentile(search_ms, 95),
        embed_p50_ms=percentile(embed_ms, 50),
        embed_p95_ms=percentile(embed_ms, 95),
        embed_again_p95_ms=percentile(again_ms, 95),
        rss_after_all_mb=rss_mb(),
    )
    out["answer_p95_over_embed_p95"] = round(out["answer_p95_ms"] / out["embed_p95_ms"], 2)
    out["stage_p95_ms"] = stage_times(service, questions()[limit : 2 * limit])
    return out


def _time_query_embeddings(embedder) -> list[float]:
    """Milliseconds of every `embed_query` call from now on, in this process
    only (the benchmark's own; the service is not changed)."""
    spent: list[float] = []
    embed = embedder.embed_query

    def timed(text: str) -> np.ndarray:
        started = time.perf_counter()
        vector = embed(text)
        spent.append((time.perf_counter() - started) * 1000)
        return vector

    embedder.embed_query = timed
    return spent


def stage_times(service, asked: list[str]) -> dict:
    """p95 of each stage of the answer path, on questions not asked before."""
    from answer.question import analyse

    stages: dict[str, list[float]] = {
        "analysis": [],
        "embed": [],
        "search": [],
        "reader": [],
        "answerability": [],
    }
    for q in asked:
        t0 = time.perf_counter()
        analysed = analyse(q)
        t1 = time.perf_counter()
        query = service.query(analysed, service.settings.top_k)
        t2 = time.perf_counter()
        hits = service.searcher.search(query)[: service.settings.top_k]
        t3 = time.perf_counter()
        reading = service.reader.read(analysed, hits, query.vector)
        t4 = time.perf_counter()
        service.judge.assess(analysed, hits, reading)
        t5 = time.perf_counter()
        spent = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
        for stage, seconds in zip(stages.values(), spent, strict=True):
            stage.append(seconds * 1000)
    return {name: percentile(times, 95) for name, times in stages.items()}


def median_run(runs: list[dict]) -> dict:
    """The run with the median throughput, with every run's throughput beside it."""
    ordered = sorted(runs, key=lambda r: r["chunks_per_s"])
    return {**ordered[len(ordered) // 2], "all_chunks_per_s": [r["chunks_per_s"] for r in runs]}


def run_scale(settings: Settings, sizes: list[int], limit: int, echo, repeats: int = 3) -> dict:
    results: dict = {"sizes": sizes, "replicated_from_real_vectors": True}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = real_corpus(Path(tmp, "corpus"))
        # Alternating rounds: a shared machine's speed drifts within minutes.
        runs: dict[str, list[dict]] = {"auto": [], "torch": []}
        for round_ in range(repeats):
            for runtime, found in runs.items():
                echo(f"ingest round {round_ + 1}/{repeats}: {runtime} …")
                found.append(bench_ingest(settings, corpus, runtime, settings.ingest_workers))
        results["ingest"] = [median_run(runs["auto"]), median_run(runs["torch"])]
        new, old = results["ingest"]
        results["ingest_speedup"] = round(new["chunks_per_s"] / old["chunks_per_s"], 2)
        real_dir = Path(tmp, "real")
        update_index(settings.model_copy(update={"index_dir": real_dir}), [corpus], progress=False)
        embedder = load_embedder(settings)
        query_vectors = np.stack([embedder.embed_query(q) for q in questions()[:200]])
        results["real_vectors"] = real_vector_recall(real_dir, settings, query_vectors)
        results["rows"] = []
        for n in sizes:
            echo(f"{n} chunks: build …")
            out_dir = Path(tmp, f"scale-{n}")
            row = replicate(real_dir, out_dir, n, settings)
            row["recall@10"] = recall_at_10(out_dir, settings, query_vectors)
            row["recall@10_noisier"] = noisy_recall(real_dir, n, settings, query_vectors)
            echo(f"{n} chunks: serve in a fresh process …")
            done = subprocess.run(
                [sys.executable, "-m", "eval.scale", str(out_dir), str(limit)],
                capture_output=True,
                text=True,
                check=True,
                cwd=PROJECT_ROOT,
            )
            row.update(json.loads(done.stdout.strip().splitlines()[-1]))
            results["rows"].append(row)
            shutil.rmtree(out_dir)
    return results


def markdown(results: dict) -> str:
    new, old = results["ingest"]
    lines = [
        f"导入（真实语料 {new['chunks']} 段，从文件到索引，模型已加载；"
        f"两种运行时交替各 {len(new['all_chunks_per_s'])} 轮，取中位数）："
        f"{new['runtime']} {new['chunks_per_s']} 段/秒（模型外 {new['outside_model_share']:.0%}），"
        f"PyTorch float32 {old['chunks_per_s']} 段/秒：{results['ingest_speedup']} 倍"
        f"（各轮：{new['all_chunks_per_s']} 对 {old['all_chunks_per_s']}）。",
        "",
        f"真实向量（真实语料全部不重复的段落与句子向量 {results['real_vectors']['vectors']:,} 个，"
        f"不复制）上的倒排索引（{results['real_vectors']['lists']} 个列表，查 "
        f"{results['real_vectors']['nprobe']} 个）：recall@10 {results['real_vectors']['recall@10']}。",
        "",
        "| 段落数 | 向量索引 | 建索引 s | 磁盘 MB | 加载后 RSS MB | 答完后 RSS MB | 回答 p50/p95 ms（冷） "
        "| 仅检索 p95 ms | 问句嵌入 p95 ms | 回答 p95 ÷ 嵌入 p95 | recall@10 | recall@10（噪声×3） |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['chunks']:,} | {r['dense_kind']} | {r['build_s']} | {r['disk_mb']} "
            f"| {r['rss_after_load_mb']:.0f} | {r['rss_after_all_mb']:.0f} "
            f"| {r['answer_p50_ms']:.0f} / {r['answer_p95_ms']:.0f} | {r['search_p95_ms']:.1f} "
            f"| {r['embed_p95_ms']:.1f} | {r['answer_p95_over_embed_p95']} | {r['recall@10']} "
            f"| {r['recall@10_noisier']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # the serving half, in its own process
    print(json.dumps(serve(Path(sys.argv[1]), int(sys.argv[2]))))
