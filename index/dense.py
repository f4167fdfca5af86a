"""Dense retrieval with FAISS: inner product over L2-normalised vectors (cosine).

Exact search (IndexFlatIP) until the collection reaches `ann_threshold`
vectors (20,000), then an inverted file with float16 residuals
(IndexIVFScalarQuantizer: 4·√n lists, fewer when k-means would lack training
points; max(32, 1.5·√lists) of them searched). Chosen by `python -m eval.bench
--scale` (README, Performance): recall@10 against exact search stays ≥ 0.98 at
50,000 and 200,000 replicated vectors even with three times the noise, where
exact search takes 30 ms at 200,000; float16 lists read half the memory of
float32 ones per probe. Below 20,000 exact search costs under 3 ms, and an
inverted file over few, noisy copies lost recall (0.95 at 10,000 with three
times the noise). HNSW (M 32–64) needed efSearch ≥ 1,024 to pass 0.98.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

_LISTS_PER_SQRT = 4
_TRAIN_PER_LIST = 64  # k-means sample per list
_MIN_TRAIN_PER_LIST = 39  # FAISS warns below this


@dataclass(frozen=True)
class DenseParams:
    ann_threshold: int
    nprobe: int | None = None  # None: default_nprobe(lists)


def default_nprobe(lists: int) -> int:
    # The work grows with √lists, not with the collection (lists/16 read a
    # sixteenth of every collection: 3 ms at 200,000).
    return min(lists, max(32, round(1.5 * math.sqrt(lists))))


def number_of_lists(n: int) -> int:
    """4·√n, but no more than leaves each list the training points k-means needs."""
    return max(1, min(int(_LISTS_PER_SQRT * math.sqrt(n)), n // _MIN_TRAIN_PER_LIST))


def build_faiss(vectors: np.ndarray, params: DenseParams) -> faiss.Index:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n < params.ann_threshold:
        index = faiss.IndexFlatIP(dim)
        if n:
            index.add(vectors)
        return index
    lists = number_of_lists(n)
    # Residuals to the list centroid in float16: half the memory read per probe
    # (the search's whole cost) and of RAM, scores within ~1e-4 of float32.
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim),
        dim,
        lists,
        faiss.ScalarQuantizer.QT_fp16,
        faiss.METRIC_INNER_PRODUCT,
        True,  # by residual
    )
    sample = np.random.default_rng(0).choice(n, min(n, lists * _TRAIN_PER_LIST), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.nprobe = params.nprobe or default_nprobe(lists)
    return index


def kind_of(index: faiss.Index) -> str:
    return "ivf" if isinstance(index, faiss.IndexIVF) else "flat"


def save_faiss(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_faiss(path: Path, nprobe: int | None = None) -> faiss.Index:
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexIVF):  # also IndexIVFFlat, built before float16
        index.nprobe = nprobe or default_nprobe(index.nlist)
    return index


def serve_single_queries() -> None:
    """One question at a time gains nothing from FAISS's OpenMP threads: they
    contend with the model's (ONNX Runtime's idle threads spin for work), which
    made a 10,000-vector exact search take 16 ms at p95 instead of 2.4 ms."""
    faiss.omp_set_num_threads(1)


def top(index: faiss.Index, query: np.ndarray, n: int) -> list[tuple[int, float]]:
    if index.ntotal == 0:
        return []
    scores, rows = index.search(query.reshape(1, -1).astype(np.float32), min(n, index.ntotal))
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
