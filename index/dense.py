"""Dense retrieval with FAISS: inner product over L2-normalised vectors (cosine).

Exact search (IndexFlatIP) until the collection reaches `ann_threshold`
vectors, then an inverted file (IndexIVFFlat: 4·√n lists, searching
max(32, lists/16) of them). Chosen by `python -m eval.bench --scale` on real
text vectors (README, "规模"): at 50,000 and 200,000 vectors it keeps
recall@10 ≥ 0.99 against exact search in about 1–3 ms, where exact search
takes 20–40 ms and HNSW (M 32–64) needed efSearch ≥ 1,024 to pass 0.98.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

_LISTS_PER_SQRT = 4
_TRAIN_PER_LIST = 64  # k-means sample: FAISS wants at least 39 per list


@dataclass(frozen=True)
class DenseParams:
    ann_threshold: int
    nprobe: int | None = None  # None: max(32, lists / 16)


def default_nprobe(lists: int) -> int:
    return min(lists, max(32, lists // 16))


def build_faiss(vectors: np.ndarray, params: DenseParams) -> faiss.Index:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n < params.ann_threshold:
        index = faiss.IndexFlatIP(dim)
        if n:
            index.add(vectors)
        return index
    lists = int(_LISTS_PER_SQRT * math.sqrt(n))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, min(n, lists * _TRAIN_PER_LIST), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.nprobe = params.nprobe or default_nprobe(lists)
    return index


def kind_of(index: faiss.Index) -> str:
    return "ivf" if isinstance(index, faiss.IndexIVFFlat) else "flat"


def save_faiss(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_faiss(path: Path, nprobe: int | None = None) -> faiss.Index:
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexIVFFlat):
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
