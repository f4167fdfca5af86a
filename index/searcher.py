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
from index.collection import Collection, Query, Where
from index.embedder import Embedder, load_embedder, resolved_runtime
from index.storage import Storage, check_model, storage_for
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
    dense: float = 0.0
    bm25: float = 0.0
    fusion: float = 0.0


class Searcher:
    def __init__(self, collection: Collection, embedder: Embedder, settings: Settings) -> None:
        self.collection = collection
        self.embedder = embedder
        self.settings = settings

    @classmethod
    def open(
        cls, settings: Settings, embedder: Embedder | None = None, storage: Storage | None = None
    ) -> Searcher:
        """Load the index, then the model (unless one is given, as when several
        knowledge bases share it); a mismatch fails before the slow part.
        `storage`: the settings' own, unless the caller names it for its messages."""
        storage = storage or storage_for(settings)
        runtime = embedder.info.runtime if embedder else resolved_runtime(settings)
        manifest = storage.read_manifest()
        check_model(manifest, storage, settings.model, None, runtime)
        collection = storage.open()
        embedder = embedder or load_embedder(settings)
        check_model(manifest, storage, settings.model, embedder.info.dim, runtime)
        return cls(collection, embedder, settings)

    def query(
        self,
        question: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        timings: Timings | None = None,
        embed: bool = True,
        where: Where = (),
    ) -> Query:
        """The question cleaned and (unless `embed` is False: BM25 alone needs no
        vector) embedded once, with how to search for it."""
        text = clean_question(question)
        mode = mode or self.settings.mode
        k = k or self.settings.top_k
        started = time.perf_counter()
        vector = self.embedder.embed_query(text) if embed else None
        if timings:
            timings.embed = (time.perf_counter() - started) * 1000
        return Query(text, vector, mode, k, max(self.settings.candidates, k), where)

    def sentence_vectors(self, hit: Hit) -> np.ndarray:
        """The vectors of the hit's sentences, stored when it was indexed."""
        return self.collection.sentence_vectors(hit.chunk.id)

    def search(
        self,
        query: Query | str,
        k: int | None = None,
        mode: SearchMode | None = None,
        timings: Timings | None = None,
    ) -> list[Hit]:
        """The best `query.k` passages; a question string is made a Query first."""
        timings = timings or Timings()
        if isinstance(query, str):
            mode = mode or self.settings.mode
            query = self.query(query, k, mode, timings, embed=mode != "bm25")
        dense_hits, bm25_hits = [], []
        if query.mode != "bm25":
            started = time.perf_counter()
            dense_hits = self.collection.search_dense(query.vector, query.candidates, query.where)
            timings.dense = (time.perf_counter() - started) * 1000
        if query.mode != "dense":
            started = time.perf_counter()
            bm25_hits = self.collection.search_lexical(query.text, query.candidates, query.where)
            timings.bm25 = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        hits = self._rank(dense_hits, bm25_hits, query)
        timings.fusion = (time.perf_counter() - started) * 1000
        return hits

    def _rank(self, dense_hits: list, bm25_hits: list, query: Query) -> list[Hit]:
        dense = {cid: (i + 1, score) for i, (cid, score) in enumerate(dense_hits)}
        bm25 = {cid: (i + 1, score) for i, (cid, score) in enumerate(bm25_hits)}
        if query.mode == "dense":
            scores = {cid: score for cid, (_, score) in dense.items()}
        elif query.mode == "bm25":
            scores = {cid: score for cid, (_, score) in bm25.items()}
        else:
            rrf_k = self.settings.rrf_k
            scores = {}
            for ranked in (dense, bm25):
                for cid, (rank, _) in ranked.items():
                    scores[cid] = scores.get(cid, 0.0) + 1.0 / (rrf_k + rank)
        # Ties (a passage found by one retriever only) go to the better dense rank.
        best = sorted(scores, key=lambda cid: (-scores[cid], dense.get(cid, (10**9,))[0]))
        best = best[: query.k]
        # BM25-only hits still get a cosine: the refusal check reads it.
        missing = [cid for cid in best if cid not in dense] if query.vector is not None else []
        cosines = dict(zip(missing, self.collection.similarity(query.vector, missing), strict=True))
        hits = []
        for cid, chunk in zip(best, self.collection.get(best), strict=True):
            d_rank, d_score = dense.get(cid, (None, None))
            b_rank, b_score = bm25.get(cid, (None, None))
            cosine = d_score if d_rank else cosines.get(cid)
            hits.append(Hit(chunk, scores[cid], d_rank, b_rank, cosine, b_score))
        return hits


def clean_question(question: str) -> str:
    """Strip control characters and outer space; refuse an empty question."""
    cleaned = "".join(ch for ch in question if ch.isprintable() or ch in " \t\n")
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise EmptyQuestion("问题为空：请输入要查询的问题，例如：这项工作取得了哪些成效？")
    return cleaned[:MAX_QUESTION_CHARS]
