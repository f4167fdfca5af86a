"""Answer a question with ranked passages: dense, BM25, or both fused.

Hybrid ranking uses reciprocal-rank fusion (RRF): each retriever hands over
its best `candidates` passages and a passage scores sum(1 / (rrf_k + rank)).
RRF needs no score calibration between cosine similarity and BM25, and
`python -m eval.bench` compares it with either retriever alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from errors import EmptyQuestion
from index import dense, store
from index.embedder import Embedder, load_embedder, resolved_runtime
from index.store import LoadedIndex
from ingest.records import Chunk
from settings import SearchMode, Settings

# The model reads 512 tokens at most; a longer question only costs jieba time.
MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float | None = None  # cosine similarity to the question
    bm25_score: float | None = None
    row: int = -1  # the chunk's row in the index (its sentence vectors)

    def to_json(self) -> dict:
        c = self.chunk
        return {
            "chunk_id": c.id,
            "score": round(self.score, 6),
            "text": c.text,
            "organisation": c.organisation,
            "title": c.title,
            "document": c.document,
            "source": c.source,
            "dense_rank": self.dense_rank,
            "bm25_rank": self.bm25_rank,
            "dense_score": self.dense_score,
            "bm25_score": self.bm25_score,
        }


@dataclass
class Timings:
    """Milliseconds spent in each stage of one search (for the benchmark)."""

    embed: float = 0.0
    faiss: float = 0.0
    bm25: float = 0.0
    fusion: float = 0.0


class Searcher:
    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Searcher:
        """Load the index, then the model (unless one is given, as when several
        knowledge bases share it); a mismatch fails before the slow part."""
        index_dir = settings.resolved_index_dir()
        runtime = embedder.info.runtime if embedder else resolved_runtime(settings)
        store.check_model(store.read_manifest(index_dir), index_dir, settings.model, None, runtime)
        index = store.load_index(index_dir, settings.ivf_nprobe)
        embedder = embedder or load_embedder(settings)
        store.check_model(index.manifest, index_dir, settings.model, embedder.info.dim, runtime)
        dense.serve_single_queries()
        return cls(index, embedder, settings)

    def sentence_vectors(self, hit: Hit) -> np.ndarray:
        """The vectors of the hit's sentences, stored when it was indexed."""
        if hit.row < 0:
            raise ValueError("a hit without an index row has no stored sentence vectors")
        return self.index.sentences_of(hit.row)

    def search(
        self,
        question: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        timings: Timings | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """`query_vector`: the question already embedded by the caller, if it was."""
        question = clean_question(question)
        k = k or self.settings.top_k
        mode = mode or self.settings.mode
        timings = timings or Timings()
        n = max(self.settings.candidates, k)
        dense_hits = self._dense(question, n, timings, query_vector) if mode != "bm25" else []
        bm25_hits = self._bm25(question, n, timings) if mode != "dense" else []
        started = time.perf_counter()
        hits = self._rank(dense_hits, bm25_hits, k, mode, query_vector)
        timings.fusion = (time.perf_counter() - started) * 1000
        return hits

    def _dense(
        self, question: str, n: int, timings: Timings, vector: np.ndarray | None
    ) -> list[tuple[int, float]]:
        started = time.perf_counter()
        if vector is None:
            vector = self.embedder.embed_query(question)
        timings.embed = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        hits = dense.top(self.index.faiss, vector, n)
        timings.faiss = (time.perf_counter() - started) * 1000
        return hits

    def _bm25(self, question: str, n: int, timings: Timings) -> list[tuple[int, float]]:
        started = time.perf_counter()
        hits = self.index.bm25.top(question, n)
        timings.bm25 = (time.perf_counter() - started) * 1000
        return hits

    def _rank(
        self,
        dense_hits: list,
        bm25_hits: list,
        k: int,
        mode: SearchMode,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        dense = {row: (i + 1, score) for i, (row, score) in enumerate(dense_hits)}
        bm25 = {row: (i + 1, score) for i, (row, score) in enumerate(bm25_hits)}
        if mode == "dense":
            scores = {row: score for row, (_, score) in dense.items()}
        elif mode == "bm25":
            scores = {row: score for row, (_, score) in bm25.items()}
        else:
            rrf_k = self.settings.rrf_k
            scores = {}
            for ranked in (dense, bm25):
                for row, (rank, _) in ranked.items():
                    scores[row] = scores.get(row, 0.0) + 1.0 / (rrf_k + rank)
        # Ties (a passage found by one retriever only) go to the better dense rank.
        best = sorted(scores, key=lambda row: (-scores[row], dense.get(row, (10**9,))[0]))[:k]
        hits = []
        for row in best:
            (d_rank, d_score), (b_rank, b_score) = (
                dense.get(row, (None, None)),
                bm25.get(row, (None, None)),
            )
            if d_score is None and query_vector is not None:
                # BM25-only hits still get a cosine: the refusal check reads it.
                d_score = float(self.index.vectors[row] @ query_vector)
            hits.append(
                Hit(self.index.chunks[row], scores[row], d_rank, b_rank, d_score, b_score, row)
            )
        return hits


def clean_question(question: str) -> str:
    """Strip control characters and outer space; refuse an empty question."""
    cleaned = "".join(ch for ch in question if ch.isprintable() or ch in " \t\n")
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise EmptyQuestion("问题为空：请输入要查询的问题，例如：这项工作取得了哪些成效？")
    return cleaned[:MAX_QUESTION_CHARS]
