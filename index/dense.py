"""Dense retrieval with FAISS: inner product over L2-normalised vectors (cosine).

Exact search (IndexFlatIP) until the collection passes `ann_threshold`
vectors, then HNSW. `python -m eval.bench ann` measures where exact search gets
slow against the query-embedding cost and what recall HNSW keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np


@dataclass(frozen=True)
class DenseParams:
    ann_threshold: int
    hnsw_m: int
    hnsw_ef_search: int


def build_faiss(vectors: np.ndarray, params: DenseParams) -> faiss.Index:
    dim = vectors.shape[1]
    if len(vectors) >= params.ann_threshold:
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = max(40, 2 * params.hnsw_m)
        index.hnsw.efSearch = params.hnsw_ef_search
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def kind_of(index: faiss.Index) -> str:
    return "hnsw" if isinstance(index, faiss.IndexHNSWFlat) else "flat"


def save_faiss(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_faiss(path: Path, ef_search: int) -> faiss.Index:
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = ef_search
    return index


def top(index: faiss.Index, query: np.ndarray, n: int) -> list[tuple[int, float]]:
    if index.ntotal == 0:
        return []
    scores, rows = index.search(query.reshape(1, -1).astype(np.float32), min(n, index.ntotal))
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
