"""Build or update the index from corpus paths, re-doing only what changed.

A file whose bytes hash as before keeps its chunks without being read again; a
chunk whose content hash is already in the index keeps its vector. So an
unchanged corpus embeds nothing (and does not even load the model), and an
edited file re-embeds only its new passages. BM25 and FAISS are rebuilt from
the stored vectors on every write: corpus-wide statistics change with any file,
and both take milliseconds next to embedding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from errors import CorpusEmpty, GhqaError, UnsupportedDocument
from index import dense, store
from index.bm25 import TOKENIZER_ID, Bm25Index
from index.embedder import Embedder, load_embedder
from ingest import PIPELINE_VERSION
from ingest.chunking import SEPARATORS
from ingest.pipeline import IngestedFile, collect_files, file_sha256, ingest_file
from ingest.records import Chunk
from settings import Settings


@dataclass
class BuildReport:
    index_dir: Path
    files: int = 0
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
    written: bool = False
    full_rebuild_reason: str = ""
    seconds: float = 0.0
    embed_seconds: float = 0.0


@dataclass
class _Previous:
    manifest: dict
    chunks_by_source: dict[str, list[Chunk]]
    vectors_by_id: dict[str, np.ndarray]


def update_index(
    settings: Settings,
    paths: list[Path],
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> BuildReport:
    files = collect_files(paths)
    with store.build_lock(settings.resolved_index_dir()):
        return _update(settings, files, rebuild, embedder, progress)


def _update(
    settings: Settings,
    files: list[Path],
    rebuild: bool,
    embedder: Embedder | None,
    progress: bool,
) -> BuildReport:
    started = time.perf_counter()
    index_dir = settings.resolved_index_dir()
    report = BuildReport(index_dir)
    previous, reason = (None, "--rebuild") if rebuild else _load_previous(settings, index_dir)
    report.full_rebuild_reason = reason

    ingested = _ingest_changed(settings, files, previous, report, progress)
    if not ingested:
        raise CorpusEmpty(f"没有可导入的文档：{len(report.skipped)} 个文件都被跳过（原因见上）。")
    chunks = [c for f in ingested for c in f.chunks]
    report.files, report.chunks = len(ingested), len(chunks)
    report.cases = sum(f.cases for f in ingested)
    report.repairs = [(f.source, f.profile, r) for f in ingested for r in f.repairs]
    if previous:
        present = {f.source for f in ingested} | {source for source, _ in report.skipped}
        report.removed = sorted(set(previous.manifest["files"]) - present)
    nothing_changed = previous and not (report.added or report.changed or report.removed)
    if nothing_changed and _same_build_settings(previous.manifest, settings):
        report.reused = len(chunks)
        report.seconds = time.perf_counter() - started
        return report

    embedder = embedder or load_embedder(settings)
    vectors = _vectors_for(chunks, previous, embedder, settings, report, progress)
    params = _dense_params(settings)
    manifest = _manifest(settings, embedder, ingested, chunks, params)
    faiss_index = dense.build_faiss(vectors, params)
    manifest["dense"]["kind"] = dense.kind_of(faiss_index)
    bm25 = Bm25Index.build(
        [c.index_text for c in chunks],
        settings.bm25_k1,
        settings.bm25_b,
        organisations={c.organisation for c in chunks if c.organisation},
    )
    store.write_index(index_dir, manifest, chunks, vectors, faiss_index, bm25)
    report.written = True
    report.seconds = time.perf_counter() - started
    return report


def _load_previous(settings: Settings, index_dir: Path) -> tuple[_Previous | None, str]:
    """The current index, if its passages and vectors can be reused, else why not."""
    try:
        loaded = store.load_index(index_dir)
    except GhqaError as exc:
        if not (index_dir / "current").exists():
            return None, ""
        return None, f"已有索引无法复用，全部重新嵌入（{exc}）"
    manifest = loaded.manifest
    if manifest["model"]["id"] != settings.model or manifest.get(
        "prompt_settings"
    ) != _prompt_settings(settings):
        return None, f"模型或提示词已更换（原为 {manifest['model']['id']}），全部重新嵌入"
    by_source: dict[str, list[Chunk]] = {}
    for chunk in loaded.chunks:
        by_source.setdefault(chunk.source, []).append(chunk)
    vectors = {c.id: v for c, v in zip(loaded.chunks, loaded.vectors, strict=True)}
    return _Previous(manifest, by_source, vectors), ""


def _ingest_changed(
    settings: Settings,
    files: list[Path],
    previous: _Previous | None,
    report: BuildReport,
    progress: bool,
) -> list[IngestedFile]:
    chunks_reusable = previous is not None and previous.manifest["chunking"] == _chunking(settings)
    out = []
    for path in tqdm(files, desc="读取文件", unit="个", disable=not progress, leave=False):
        source = str(path)
        sha = file_sha256(path)
        old = previous.manifest["files"].get(source) if previous else None
        if chunks_reusable and old and old["sha256"] == sha:
            chunks = tuple(previous.chunks_by_source.get(source, ()))
            out.append(
                IngestedFile(
                    source,
                    old["name"],
                    sha,
                    old["cases"],
                    chunks,
                    old.get("profile", "none"),
                    tuple(old.get("repairs", ())),
                )
            )
            report.unchanged.append(source)
            continue
        try:
            out.append(
                ingest_file(
                    path,
                    settings.chunk_size,
                    settings.chunk_overlap,
                    settings.corpus_profile,
                    settings.profile_dir,
                )
            )
        except UnsupportedDocument as exc:
            report.skipped.append((source, str(exc)))
            continue
        (report.changed if old else report.added).append(source)
    return out


def _vectors_for(
    chunks: list[Chunk],
    previous: _Previous | None,
    embedder: Embedder,
    settings: Settings,
    report: BuildReport,
    progress: bool,
) -> np.ndarray:
    known = previous.vectors_by_id if previous else {}
    todo = [c for c in chunks if c.id not in known]
    started = time.perf_counter()
    fresh = embedder.embed_passages(
        [c.index_text for c in todo], batch_size=settings.embed_batch_size, progress=progress
    )
    report.embed_seconds = time.perf_counter() - started
    report.embedded, report.reused = len(todo), len(chunks) - len(todo)
    by_id = dict(known)
    by_id.update({c.id: v for c, v in zip(todo, fresh, strict=True)})
    if not chunks:
        return np.zeros((0, embedder.info.dim), dtype=np.float32)
    return np.stack([by_id[c.id] for c in chunks]).astype(np.float32)


def _dense_params(settings: Settings) -> dense.DenseParams:
    return dense.DenseParams(settings.ann_threshold, settings.hnsw_m, settings.hnsw_ef_search)


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
        "library": f"bm25s-{bm25s.__version__}",
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
        and manifest["dense"]["hnsw_m"] == params.hnsw_m
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
        "chunking": _chunking(settings),
        "tokenizer": TOKENIZER_ID,
        "bm25": _bm25_settings(settings),
        "dense": {
            "kind": "",
            "metric": "inner_product",
            "ann_threshold": params.ann_threshold,
            "hnsw_m": params.hnsw_m,
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
