"""What layers above index/ may know of an index: the `Collection` protocol,
its typed `Manifest`, and the `Query` made once per question.

A backend (index/local.py: FAISS + bm25s in an index directory) answers in
chunk ids and `Chunk` records; row numbers, FAISS and bm25s stay behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ingest.records import Chunk
from settings import SearchMode


@dataclass(frozen=True)
class IndexedFile:
    source: str
    name: str
    sha256: str
    cases: int
    chunks: int


@dataclass(frozen=True)
class Manifest:
    """The facts about a build that callers use (the full record stays in the
    backend's own manifest file)."""

    created: str
    model_id: str
    dim: int
    runtime: str
    files: tuple[IndexedFile, ...]
    cases: int
    chunks: int

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        files = tuple(
            IndexedFile(source, f["name"], f["sha256"], f["cases"], f["chunks"])
            for source, f in data["files"].items()
        )
        model = data["model"]
        counts = data["counts"]
        return cls(
            data["created"],
            model["id"],
            model["dim"],
            model.get("runtime", ""),
            files,
            counts["cases"],
            counts["chunks"],
        )

    def to_json(self) -> dict:
        return {
            "chunks": self.chunks,
            "files": len(self.files),
            "cases": self.cases,
            "built": self.created,
        }


# Passage fields a search can be limited to ("only 龙岩's cases"): scalar
# fields in Milvus, a lookup over the chunk list in the local backend.
FILTERABLE = ("organisation", "title", "document", "source")

# (field, value) pairs a passage must all match; () = no filter.
Where = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Query:
    """One question as every stage sees it: built once, passed down."""

    text: str
    vector: np.ndarray | None = field(repr=False)  # None: BM25 alone, no model call
    mode: SearchMode
    k: int
    candidates: int  # how many hits each retriever hands to fusion
    where: Where = ()


class Collection(Protocol):
    manifest: Manifest

    def __len__(self) -> int: ...

    def search_dense(
        self, vector: np.ndarray, n: int, where: Where = ()
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine) of the `n` nearest passages matching `where`, best first."""

    def search_lexical(self, text: str, n: int, where: Where = ()) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the best `n` passages matching `where` that
        share a term with `text`, best first."""

    def get(self, chunk_ids: list[str]) -> list[Chunk]: ...

    def similarity(self, vector: np.ndarray, chunk_ids: list[str]) -> list[float]:
        """Cosine of each passage to `vector` (for hits found by BM25 alone)."""

    def sentence_vectors(self, chunk_id: str) -> np.ndarray:
        """The passage's sentence vectors (float32, in sentence order), stored at ingest."""

    def doc_freq(self, term: str) -> int:
        """How many passages contain the term (as BM25 tokenises it)."""

    def places(self) -> frozenset[str]:
        """The place words the collection's passages use (with their spellings)."""

    def title_names(self) -> frozenset[str]:
        """The names the documents' titles give (index/titles.py)."""

    def chunks(self) -> list[Chunk]:
        """Every passage, in index order (for example questions and evaluation)."""
