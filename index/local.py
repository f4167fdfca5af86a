"""The local backend: FAISS + bm25s in an index directory (index/store.py),
behind the Collection and Storage protocols. Rows are this file's business only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from index import dense, store
from index.bm25 import Bm25Index
from index.collection import Manifest, Where
from index.storage import StoredBuild
from index.store import LoadedIndex
from index.titles import title_names
from index.vector_cache import Embedded
from ingest.records import Chunk
from settings import Settings


class LocalCollection:
    def __init__(self, loaded: LoadedIndex) -> None:
        self._index = loaded
        self._rows = {chunk.id: row for row, chunk in enumerate(loaded.chunks)}
        self.manifest = Manifest.from_json(loaded.manifest)
        self.path = loaded.path

    def __len__(self) -> int:
        return len(self._index.chunks)

    def search_dense(
        self, vector: np.ndarray, n: int, where: Where = ()
    ) -> list[tuple[str, float]]:
        if not where:
            return self._ids(dense.top(self._index.faiss, vector, n))
        # Exact over the matching passages: an approximate index would miss
        # those in lists it does not probe.
        rows = self._matching(where)
        scores = [(row, float(self._index.vectors[row] @ vector)) for row in rows]
        return self._ids(sorted(scores, key=lambda s: -s[1])[:n])

    def search_lexical(self, text: str, n: int, where: Where = ()) -> list[tuple[str, float]]:
        rows = self._matching(where) if where else None
        return self._ids(self._index.bm25.top(text, n, rows))

    def _matching(self, where: Where) -> list[int]:
        return [
            row
            for row, chunk in enumerate(self._index.chunks)
            if all(getattr(chunk, name) == value for name, value in where)
        ]

    def get(self, chunk_ids: list[str]) -> list[Chunk]:
        return [self._index.chunks[self._rows[i]] for i in chunk_ids]

    def similarity(self, vector: np.ndarray, chunk_ids: list[str]) -> list[float]:
        return [float(self._index.vectors[self._rows[i]] @ vector) for i in chunk_ids]

    def sentence_vectors(self, chunk_id: str) -> np.ndarray:
        return self._index.sentences_of(self._rows[chunk_id])

    def doc_freq(self, term: str) -> int:
        return self._index.bm25.document_frequency(term)

    def places(self) -> frozenset[str]:
        return frozenset(p for names in self._index.bm25.aliases.values() for p in names)

    def title_names(self) -> frozenset[str]:
        return title_names({c.title for c in self._index.chunks})

    def chunks(self) -> list[Chunk]:
        return list(self._index.chunks)

    def _ids(self, scored: list[tuple[int, float]]) -> list[tuple[str, float]]:
        chunks = self._index.chunks
        return [(chunks[row].id, score) for row, score in scored]


def open_collection(index_dir: Path, nprobe: int | None = None) -> LocalCollection:
    """The index directory's current build; raises IndexNotFound / ManifestMismatch."""
    return LocalCollection(store.load_index(index_dir, nprobe))


class LocalStorage:
    """Every write is a complete new build beside the current one, swapped in
    atomically: FAISS's IVF lists and BM25's corpus statistics change with any
    file, and rebuilding both takes seconds next to embedding."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.index_dir = settings.resolved_index_dir()
        self.where = str(self.index_dir)
        self.rebuild_hint = store.rebuild_hint(self.index_dir)

    def read_manifest(self) -> dict:
        return store.read_manifest(self.index_dir)

    def current_build(self) -> str | None:
        build = store.current_build(self.index_dir)
        return str(build) if build else None

    def open(self) -> LocalCollection:
        collection = open_collection(self.index_dir, self._settings.ivf_nprobe)
        dense.serve_single_queries()
        return collection

    def load_previous(self) -> StoredBuild:
        loaded = store.load_index(self.index_dir)
        starts = loaded.sentence_starts
        vectors, sentences = loaded.vectors.all(), loaded.sentence_vectors.all()
        embedded = {
            c.id: Embedded(vectors[row], sentences[starts[row] : starts[row + 1]])
            for row, c in enumerate(loaded.chunks)
        }
        return StoredBuild(loaded.manifest, loaded.chunks, embedded)

    def write(
        self,
        manifest: dict,
        chunks: list[Chunk],
        embedded: Mapping[str, Embedded],
        terms: Mapping[str, list[str]] | None = None,
    ) -> None:
        settings = self._settings
        vectors = np.stack([embedded[c.id].vector for c in chunks]).astype(np.float32)
        faiss_index = dense.build_faiss(
            vectors, dense.DenseParams(settings.ann_threshold, settings.ivf_nprobe)
        )
        manifest["dense"]["kind"] = dense.kind_of(faiss_index)
        terms = terms or {}
        bm25 = Bm25Index.build(
            [c.index_text for c in chunks],
            settings.bm25_k1,
            settings.bm25_b,
            organisations={c.organisation for c in chunks if c.organisation},
            tokens=[terms.get(c.id) for c in chunks],
        )
        sentences = [embedded[c.id].sentences for c in chunks]
        store.write_index(self.index_dir, manifest, chunks, vectors, sentences, faiss_index, bm25)

    def remove(self) -> None:
        store.remove_index(self.index_dir)

    def write_report(self, report: dict) -> None:
        store.write_report(self.index_dir, report)

    def read_report(self) -> dict | None:
        return store.read_report(self.index_dir)

    def problem(self) -> str:
        return ""  # the index directory is this machine's disk
