"""The local backend: FAISS + bm25s in an index directory (index/store.py),
behind the Collection protocol. Rows are this file's business only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index import dense, store
from index.collection import Manifest
from index.store import LoadedIndex
from ingest.records import Chunk


class LocalCollection:
    def __init__(self, loaded: LoadedIndex) -> None:
        self._index = loaded
        self._rows = {chunk.id: row for row, chunk in enumerate(loaded.chunks)}
        self.manifest = Manifest.from_json(loaded.manifest)
        self.path = loaded.path

    def __len__(self) -> int:
        return len(self._index.chunks)

    def search_dense(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        return self._ids(dense.top(self._index.faiss, vector, n))

    def search_lexical(self, text: str, n: int) -> list[tuple[str, float]]:
        return self._ids(self._index.bm25.top(text, n))

    def get(self, chunk_ids: list[str]) -> list[Chunk]:
        return [self._index.chunks[self._rows[i]] for i in chunk_ids]

    def similarity(self, vector: np.ndarray, chunk_ids: list[str]) -> list[float]:
        return [float(self._index.vectors[self._rows[i]] @ vector) for i in chunk_ids]

    def sentence_vectors(self, chunk_id: str) -> np.ndarray:
        return self._index.sentences_of(self._rows[chunk_id])

    def doc_freq(self, term: str) -> int:
        return self._index.bm25.document_frequency(term)

    @property
    def n_docs(self) -> int:
        return self._index.bm25.n_docs

    def places(self) -> frozenset[str]:
        return frozenset(p for names in self._index.bm25.aliases.values() for p in names)

    def chunks(self) -> list[Chunk]:
        return list(self._index.chunks)

    def _ids(self, scored: list[tuple[int, float]]) -> list[tuple[str, float]]:
        chunks = self._index.chunks
        return [(chunks[row].id, score) for row, score in scored]


def open_collection(index_dir: Path, nprobe: int | None = None) -> LocalCollection:
    """The index directory's current build; raises IndexNotFound / ManifestMismatch."""
    return LocalCollection(store.load_index(index_dir, nprobe))
