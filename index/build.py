"""Build or update the index from corpus paths, re-doing only what changed.

    files --(worker processes: load, clean, split)--> chunks, in file order
          --(this process: the model, one batch at a time)--> vectors, checkpointed
          --> the backend (index/storage.py): FAISS + BM25 files swapped in
              atomically, or the changed passages written to Milvus

A file whose bytes hash as before keeps its chunks without being read again; a
chunk whose content hash is already in the index keeps its vectors. So an
unchanged corpus embeds nothing (and does not even load the model), and an
edited file re-embeds only its new passages. Files are read in worker processes
while the model embeds the passages already read, and every embedded batch is
checkpointed (`vector_cache`): a build killed at any point resumes where it
stopped. Each passage's sentences get vectors from the passage's own forward
pass (`Embedder.embed_chunks`), so the reader needs no model call on passages.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from errors import CorpusEmpty, IndexNotFound, ManifestMismatch, UnsupportedDocument
from index import bm25, dense, store
from index.bm25 import TOKENIZER_ID
from index.embedder import Embedder, load_embedder, resolved_runtime
from index.storage import Storage, StoredBuild, splits_sentences_as_now, storage_for
from index.vector_cache import Embedded, VectorCache
from ingest import PIPELINE_VERSION
from ingest.chunking import SEPARATORS
from ingest.pipeline import IngestedFile, collect_files, file_sha256, ingest_file
from ingest.records import Chunk
from ingest.sentences import SENTENCE_SPLITTER, sentence_spans
from settings import Settings

_POOL_MIN_FILES = 8  # fewer changed files are read in this process: no start-up cost


@dataclass
class BuildReport:
    index_dir: Path | None = None
    where: str = ""  # where the index is kept, for messages (storage.where)
    files: int = 0
    files_total: int = 0  # found in the given paths (progress: how many are read)
    to_embed: int = 0  # passages found so far that need the model (progress)
    cases: int = 0
    chunks: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    repairs: list[tuple[str, str, str]] = field(default_factory=list)  # (source, profile, what)
    embedded: int = 0
    reused: int = 0
    resumed: int = 0  # vectors found in the checkpoints of an interrupted build
    written: bool = False
    full_rebuild_reason: str = ""
    seconds: float = 0.0
    embed_seconds: float = 0.0  # inside the model (forward passes and pooling)
    checkpoint_dir: Path | None = None

    def to_json(self) -> dict:
        """What a person reviewing the build needs (the admin page shows it)."""
        return {
            "files": self.files,
            "cases": self.cases,
            "chunks": self.chunks,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": len(self.unchanged),
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
            "repairs": [{"source": s, "profile": p, "what": w} for s, p, w in self.repairs],
            "embedded": self.embedded,
            "reused": self.reused,
            "written": self.written,
            "seconds": round(self.seconds, 1),
        }

    @property
    def outside_model_share(self) -> float:
        """The share of the build's wall time spent outside the model."""
        return 1.0 - self.embed_seconds / self.seconds if self.seconds else 0.0


def update_index(
    settings: Settings,
    paths: list[Path],
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: bool = True,
    report: BuildReport | None = None,
    names: dict[Path, str] | None = None,
) -> BuildReport:
    """`report`: filled in as the build goes, so a caller interrupted by
    Ctrl-C (or another thread showing progress) can say how far it got.
    `names`: the names to show for files stored under other names."""
    files = collect_files(paths)
    report = report or BuildReport()
    report.index_dir = settings.resolved_index_dir()
    storage = storage_for(settings)
    report.where = storage.where
    report.files_total = len(files)
    shown = {p.resolve(): n for p, n in (names or {}).items()}
    with store.build_lock(settings.resolved_index_dir()):
        _update(settings, storage, files, rebuild, embedder, progress, report, shown)
        storage.write_report(report.to_json())
        return report


def _update(
    settings: Settings,
    storage: Storage,
    files: list[Path],
    rebuild: bool,
    embedder: Embedder | None,
    progress: bool,
    report: BuildReport,
    names: dict[Path, str],
) -> BuildReport:
    started = time.perf_counter()
    index_dir = settings.resolved_index_dir()
    previous, reason = (None, "--rebuild") if rebuild else _load_previous(settings, storage)
    report.full_rebuild_reason = reason
    if rebuild:  # "embed everything again" includes an interrupted build's batches
        VectorCache(index_dir, _vector_identity(settings)).clear()
    batches = _Batches(settings, embedder, previous, report, progress)
    reader = _read(settings, files, previous, report, progress, names)
    # Loading what BM25 needs at the end while the first files are read keeps
    # it off the build's critical path.
    threading.Thread(target=bm25.warm_up, daemon=True).start()
    ingested, terms = [], {}
    try:
        for f, tokens in reader:
            ingested.append(f)
            if tokens is not None:
                terms.update(zip((c.id for c in f.chunks), tokens, strict=True))
            batches.add(f.chunks)
        if not ingested:
            raise CorpusEmpty(
                f"没有可导入的文档：{len(report.skipped)} 个文件都被跳过（原因见上）。"
            )
        chunks = [c for f in ingested for c in f.chunks]
        report.files, report.chunks = len(ingested), len(chunks)
        report.cases = sum(f.cases for f in ingested)
        report.repairs = [(f.source, f.profile, r) for f in ingested for r in f.repairs]
        if previous:
            present = {f.source for f in ingested} | {source for source, _ in report.skipped}
            report.removed = sorted(set(previous.manifest["files"]) - present)
        nothing_changed = previous and not (report.added or report.changed or report.removed)
        if nothing_changed and _same_build_settings(previous.manifest, settings):
            report.seconds = time.perf_counter() - started
            return report
        batches.finish()
    finally:
        reader.close()  # stops the worker processes if the build failed
        batches.close()

    manifest = _manifest(settings, batches.embedder(), ingested, chunks, _dense_params(settings))
    storage.write(manifest, chunks, batches.done, terms)
    batches.cache.clear()
    report.written = True
    report.seconds = time.perf_counter() - started
    return report


class _Batches:
    """Chunks in, vectors out: reuses what the previous index and the
    checkpoints hold, embeds the rest a batch at a time as chunks arrive, and
    checkpoints each batch. The model is loaded only when a chunk needs it."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None,
        previous: StoredBuild | None,
        report: BuildReport,
        progress: bool,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._report = report
        self.cache = VectorCache(settings.resolved_index_dir(), _vector_identity(settings))
        report.checkpoint_dir = self.cache.dir
        self.done: dict[str, Embedded] = dict(previous.embedded) if previous else {}
        self._checkpointed = self.cache.load()
        self._pending: list[Chunk] = []
        self._bar = tqdm(
            total=0, desc="嵌入段落", unit="段", disable=not progress, dynamic_ncols=True
        )

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self._settings)
        return self._embedder

    def add(self, chunks: tuple[Chunk, ...]) -> None:
        for chunk in chunks:
            if chunk.id in self.done:
                self._report.reused += 1
            elif chunk.id in self._checkpointed:
                self.done[chunk.id] = self._checkpointed.pop(chunk.id)
                self._report.resumed += 1
            else:
                self._pending.append(chunk)
                self.done[chunk.id] = None  # claimed: a repeated passage is embedded once
                self._bar.total += 1
                self._report.to_embed += 1
        while len(self._pending) >= self._settings.embed_batch_size:
            self._embed(self._settings.embed_batch_size)

    def finish(self) -> None:
        while self._pending:
            self._embed(self._settings.embed_batch_size)

    def close(self) -> None:
        self._bar.close()

    def _embed(self, n: int) -> None:
        batch, self._pending = self._pending[:n], self._pending[n:]
        embedder = self.embedder()
        started = time.perf_counter()
        vectors, sentences = embedder.embed_chunks(
            [c.index_text for c in batch], [shifted_spans(c) for c in batch]
        )
        self._report.embed_seconds += time.perf_counter() - started
        self.cache.append([c.id for c in batch], vectors, sentences)
        for chunk, vector, rows in zip(batch, vectors, sentences, strict=True):
            self.done[chunk.id] = Embedded(vector, rows.astype(np.float16))
        self._report.embedded += len(batch)
        self._bar.update(len(batch))


def shifted_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """Sentence spans of the chunk's text, as offsets into its index text."""
    shift = len(chunk.index_text) - len(chunk.text)
    return [(start + shift, end + shift) for start, end in sentence_spans(chunk.text)]


def _vector_identity(settings: Settings) -> dict:
    """What a checkpointed vector depends on, besides its chunk's content."""
    return {
        "model": settings.model,
        "runtime": resolved_runtime(settings),
        "prompts": _prompt_settings(settings),
        "sentences": SENTENCE_SPLITTER,
    }


def _load_previous(settings: Settings, storage: Storage) -> tuple[StoredBuild | None, str]:
    """The current index, if its passages and vectors can be reused, else why not."""
    if storage.current_build() is None:
        return None, ""
    try:
        previous = storage.load_previous()
    except (IndexNotFound, ManifestMismatch) as exc:
        return None, f"已有索引无法复用，全部重新嵌入（{exc}）"
    built = previous.manifest["model"]
    if (
        built["id"] != settings.model
        or built.get("runtime") != resolved_runtime(settings)
        or previous.manifest.get("prompt_settings") != _prompt_settings(settings)
    ):
        return None, f"模型、运行时或提示词已更换（原为 {built['id']}），全部重新嵌入"
    if not splits_sentences_as_now(previous.manifest):
        return None, "分句规则已更新，句子向量全部重新嵌入"
    return previous, ""


def _read(
    settings: Settings,
    files: list[Path],
    previous: StoredBuild | None,
    report: BuildReport,
    progress: bool,
    names: dict[Path, str],
) -> Iterator[tuple[IngestedFile, tuple[list[str], ...] | None]]:
    """Every readable file's chunks with their BM25 terms, in file order.
    Unchanged files come from the previous index (terms not known: None);
    the others are read and tokenised by worker processes, which run ahead
    while the caller embeds."""
    chunks_reusable = previous is not None and previous.manifest["chunking"] == _chunking(settings)
    chunks_by_source: dict[str, list[Chunk]] = {}
    for chunk in previous.chunks if previous else ():
        chunks_by_source.setdefault(chunk.source, []).append(chunk)
    old_of = {}
    for path in files:
        old = previous.manifest["files"].get(str(path)) if previous else None
        old_of[path] = (old, file_sha256(path))
    todo = [
        p
        for p, (old, sha) in old_of.items()
        if not (chunks_reusable and old and old["sha256"] == sha)
    ]
    args = (
        settings.chunk_size,
        settings.chunk_overlap,
        settings.corpus_profile,
        settings.profile_dir,
    )
    pool = None
    if settings.ingest_workers and len(todo) >= _POOL_MIN_FILES:
        # spawn, not fork: the model's thread pools may already be running here.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            settings.ingest_workers,
            mp_context=context,
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
    futures: dict[Path, Future] = (
        {p: pool.submit(_read_one, p, names.get(p), *args) for p in todo} if pool else {}
    )
    try:
        for path in tqdm(files, desc="读取文件", unit="个", disable=not progress, leave=False):
            source = str(path)
            old, sha = old_of[path]
            if path not in todo:
                report.unchanged.append(source)
                kept = IngestedFile(
                    source,
                    old["name"],
                    sha,
                    old["cases"],
                    tuple(chunks_by_source.get(source, ())),
                    old.get("profile", "none"),
                    tuple(old.get("repairs", ())),
                )
                yield kept, None
                continue
            result = futures[path].result() if pool else _read_one(path, names.get(path), *args)
            if isinstance(result, str):
                report.skipped.append((source, result))
                continue
            (report.changed if old else report.added).append(source)
            yield result
    finally:
        if pool:
            pool.shutdown(wait=False, cancel_futures=True)


def _exit_with_parent(parent: int) -> None:
    """A worker whose build was killed (kill -9 gives it no chance to stop its
    pool) exits instead of waiting for work forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _read_one(
    path: Path,
    name: str | None,
    size: int,
    overlap: int,
    profile: str | None,
    profile_dir: Path | None,
) -> tuple[IngestedFile, tuple[list[str], ...]] | str:
    """One file's chunks with their BM25 terms, or why it was skipped (runs in
    a worker process: tokenising here keeps jieba off the model's path)."""
    try:
        ingested = ingest_file(path, size, overlap, profile, profile_dir, name)
    except UnsupportedDocument as exc:
        return str(exc)
    return ingested, tuple(bm25.tokenize(c.index_text) for c in ingested.chunks)


def _dense_params(settings: Settings) -> dense.DenseParams:
    return dense.DenseParams(settings.ann_threshold, settings.ivf_nprobe)


def _chunking(settings: Settings) -> dict:
    return {
        "pipeline_version": PIPELINE_VERSION,
        "splitter": "langchain_text_splitters.RecursiveCharacterTextSplitter",
        "size": settings.chunk_size,
        "overlap": settings.chunk_overlap,
        "separators": SEPARATORS,
        "unit": "characters",
        "corpus_profile": settings.corpus_profile or "auto",
    }


def _prompt_settings(settings: Settings) -> dict:
    return {"query_prompt": settings.query_prompt, "passage_prompt": settings.passage_prompt}


def _bm25_settings(settings: Settings) -> dict:
    return {
        "library": "milvus" if settings.backend == "milvus" else f"bm25s-{bm25s.__version__}",
        "k1": settings.bm25_k1,
        "b": settings.bm25_b,
        "tokenizer": TOKENIZER_ID,
    }


def _same_build_settings(manifest: dict, settings: Settings) -> bool:
    params = _dense_params(settings)
    return (
        manifest["chunking"] == _chunking(settings)
        and manifest["bm25"] == _bm25_settings(settings)
        and manifest["dense"]["ann_threshold"] == params.ann_threshold
    )


def _manifest(
    settings: Settings,
    embedder: Embedder,
    files: list[IngestedFile],
    chunks: list[Chunk],
    params: dense.DenseParams,
) -> dict:
    return {
        "format_version": store.INDEX_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": embedder.info.to_json(),
        "prompt_settings": _prompt_settings(settings),
        "sentences": SENTENCE_SPLITTER,
        "chunking": _chunking(settings),
        "tokenizer": TOKENIZER_ID,
        "bm25": _bm25_settings(settings),
        "dense": {
            "kind": "",
            "metric": "inner_product",
            "ann_threshold": params.ann_threshold,
        },
        "counts": {
            "files": len(files),
            "cases": sum(f.cases for f in files),
            "chunks": len(chunks),
        },
        "files": {
            f.source: {
                "name": f.name,
                "sha256": f.sha256,
                "cases": f.cases,
                "chunks": len(f.chunks),
                "profile": f.profile,
                "repairs": list(f.repairs),
            }
            for f in files
        },
    }
