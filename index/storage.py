"""Where a build is kept: the write side of an index and its manifest, behind
one small protocol with a backend per engine (settings.backend).

    local   index/local.py   FAISS + bm25s files in the index directory
    milvus  index/milvus.py  collections in Milvus (Lite file or server)

Readers open a `Collection` (index/collection.py) from it; the build
(index/build.py) hands it the passages of the new build, and each backend
writes what it needs: the local one a complete new build beside the old, the
Milvus one only the passages that were added or removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from errors import ManifestMismatch
from index.collection import Collection
from index.vector_cache import Embedded
from ingest.records import Chunk
from ingest.sentences import SENTENCE_SPLITTER
from settings import Settings


@dataclass(frozen=True)
class StoredBuild:
    """What a new build may reuse from the current one."""

    manifest: dict
    chunks: list[Chunk]
    # Vectors by chunk id; `vector_cache.STORED` where the backend keeps them
    # itself and a kept passage needs no vector to be written again.
    embedded: Mapping[str, Embedded]


class Storage(Protocol):
    where: str  # for messages: the index directory, or the Milvus collection
    rebuild_hint: str  # the command that (re)builds it

    def read_manifest(self) -> dict:
        """The current build's manifest; raises IndexNotFound, ManifestMismatch
        or BackendUnavailable, each saying what to do."""

    def current_build(self) -> str | None:
        """Names the current build; changes with every write (None: no index)."""

    def open(self) -> Collection: ...

    def load_previous(self) -> StoredBuild:
        """The current build for reuse; raises as read_manifest does."""

    def write(
        self,
        manifest: dict,
        chunks: list[Chunk],
        embedded: Mapping[str, Embedded],
        terms: Mapping[str, list[str]] | None = None,
    ) -> None:
        """Make `chunks` (with `manifest`) the current build. `terms`: BM25
        terms already computed for some chunks (by chunk id); others are
        tokenised here."""

    def remove(self) -> None:
        """Drop the index (its last document was removed)."""

    def write_report(self, report: dict) -> None: ...

    def read_report(self) -> dict | None: ...

    def problem(self) -> str:
        """Why the backend cannot be reached now, or "" when it can."""


def check_model(
    manifest: dict,
    storage: Storage,
    model_id: str,
    dim: int | None = None,
    runtime: str | None = None,
) -> None:
    """Refuse an index built with another model, runtime or dimension (its
    vectors would not be comparable with the questions'), or whose sentence
    vectors were cut by another sentence splitter (the reader would pair a
    sentence with its neighbour's vector)."""
    index_dir, hint = storage.where, storage.rebuild_hint
    built = manifest["model"]
    if not splits_sentences_as_now(manifest):
        raise ManifestMismatch(
            f"{index_dir} 的句子向量是按旧的分句规则建的，程序已更新分句规则。请重新建索引：{hint}"
        )
    if built["id"] != model_id:
        raise ManifestMismatch(
            f"{index_dir} 的索引是用模型 {built['id']} 建的，当前配置的模型是 {model_id}。"
            f"请用当前模型重新建索引：{hint}（或把 GHQA_MODEL 设回 {built['id']}）"
        )
    if runtime is not None and built.get("runtime") != runtime:
        raise ManifestMismatch(
            f"{index_dir} 的索引是用 {built.get('runtime')} 运行时建的，当前是 {runtime}"
            f"（两者的向量略有不同）。请重新建索引：{hint}"
            f"（或设 GHQA_RUNTIME={built.get('runtime')}）"
        )
    if dim is not None and built["dim"] != dim:
        raise ManifestMismatch(
            f"{index_dir} 的向量维度是 {built['dim']}，模型 {model_id} 输出 {dim} 维。"
            f"请重新建索引：{hint}"
        )


def splits_sentences_as_now(manifest: dict) -> bool:
    """The index's sentence vectors were cut as ingest/sentences.py cuts now
    (an index from before the splitter was recorded used the first one)."""
    return manifest.get("sentences", "sentences-v1") == SENTENCE_SPLITTER


def storage_for(settings: Settings) -> Storage:
    """The configured backend's storage for settings.index_dir's index."""
    if settings.backend == "milvus":
        from index.milvus import MilvusStorage

        return MilvusStorage(settings)
    from index.local import LocalStorage

    return LocalStorage(settings)
