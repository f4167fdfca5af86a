"""The index directory: plain files, a manifest, and an atomic swap.

    INDEX_DIR/current -> builds/<id>      symlink, replaced atomically
    INDEX_DIR/builds/<id>/manifest.json   format, model, settings, file hashes
                         chunks.jsonl     one passage per line (UTF-8), with
                                          its entities (ingest/entities.py)
                         vectors.npy      float32 [chunks, dim], no pickle
                         sentences.npy    float16 [sentences, dim]: each chunk's
                                          sentences, in order (ingest/sentences.py)
                         sentence_starts.npy  int64 [chunks + 1]: chunk i's
                                          sentences are rows starts[i]:starts[i+1]
                         dense.faiss      FAISS index over the same rows
                         bm25/            bm25s arrays (.npy) and vocabulary (.json)

A build is written to `builds/<id>.partial`, renamed when complete, and only
then does `current` move to it; a build killed at any point leaves the previous
index in place and loadable. Vector files are not loaded: the serving process
reads the rows it needs (`RowFile`), so its memory does not grow with the
collection's sentence count or with the questions asked.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from atomic import write_atomic
from errors import IndexBusy, IndexNotFound, ManifestMismatch
from index import dense
from index.bm25 import Bm25Index
from ingest.records import Chunk

INDEX_FORMAT = 2
_CURRENT = "current"
_REPORT = "report.json"
_BUILDS = "builds"


class RowFile:
    """Rows of a 2-D .npy file read on demand with pread: the serving process
    holds none of the file, and the pages it reads stay in the OS page cache
    instead of its own resident memory (a memory map would count them, and
    grow with every question asked)."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            self._offset = fh.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{path.name}: expected a C-ordered 2-D array")
        self.shape, self.dtype = shape, np.dtype(dtype)
        self._row_bytes = shape[1] * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, end: int) -> np.ndarray:
        count = max(0, min(end, self.shape[0]) - start)
        data = os.pread(self._fd, count * self._row_bytes, self._offset + start * self._row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(count, self.shape[1])

    def __getitem__(self, row: int) -> np.ndarray:
        return self.rows(row, row + 1)[0]

    def all(self) -> np.ndarray:
        return self.rows(0, self.shape[0])

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)


@dataclass
class LoadedIndex:
    path: Path
    manifest: dict
    chunks: list[Chunk]
    vectors: RowFile  # float32 [chunks, dim]
    faiss: faiss.Index
    bm25: Bm25Index
    sentence_vectors: RowFile  # float16 [sentences, dim]
    sentence_starts: np.ndarray

    def sentences_of(self, row: int) -> np.ndarray:
        """The sentence vectors of chunk `row`, float32, in sentence order."""
        start, end = self.sentence_starts[row], self.sentence_starts[row + 1]
        return self.sentence_vectors.rows(int(start), int(end)).astype(np.float32)


def rebuild_hint(index_dir: Path) -> str:
    return f"python -m ingest --index-dir {index_dir}"


def read_manifest(index_dir: Path) -> dict:
    """The manifest of the current build; raises IndexNotFound / ManifestMismatch."""
    path = index_dir / _CURRENT / "manifest.json"
    if not path.exists():
        raise IndexNotFound(f"{index_dir} 中还没有索引。请先建索引：{rebuild_hint(index_dir)}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestMismatch(
            f"{path} 无法读取（{exc}）。请重新建索引：{rebuild_hint(index_dir)}"
        ) from exc
    version = manifest.get("format_version")
    if version != INDEX_FORMAT:
        raise ManifestMismatch(
            f"{index_dir} 的索引格式版本是 {version}，本程序需要 {INDEX_FORMAT}。"
            f"请重新建索引：{rebuild_hint(index_dir)}"
        )
    return manifest


def load_index(index_dir: Path, nprobe: int | None = None) -> LoadedIndex:
    manifest = read_manifest(index_dir)
    build = (index_dir / _CURRENT).resolve()
    try:
        chunks = read_chunks(build / "chunks.jsonl")
        vectors = RowFile(build / "vectors.npy")
        sentence_vectors = RowFile(build / "sentences.npy")
        starts = np.load(build / "sentence_starts.npy", allow_pickle=False)
        index = dense.load_faiss(build / "dense.faiss", nprobe)
        bm25 = Bm25Index.load(build / "bm25")
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ManifestMismatch(
            f"{build} 中的索引文件不完整或已损坏（{exc}）。请重新建索引：{rebuild_hint(index_dir)}"
        ) from exc
    consistent = len(chunks) == len(vectors) == index.ntotal == len(starts) - 1
    if not consistent or starts[-1] != len(sentence_vectors):
        raise ManifestMismatch(
            f"{build} 中段落数与向量数不一致。请重新建索引：{rebuild_hint(index_dir)}"
        )
    return LoadedIndex(build, manifest, chunks, vectors, index, bm25, sentence_vectors, starts)


def current_build(index_dir: Path) -> Path | None:
    """The build the index directory points at now (it changes with every write)."""
    link = index_dir / _CURRENT
    return link.resolve() if link.is_symlink() else None


def remove_index(index_dir: Path) -> None:
    """Empty the index directory (its last document was removed); readers that
    open it afterwards are told there is no index."""
    with build_lock(index_dir):
        (index_dir / _CURRENT).unlink(missing_ok=True)
        shutil.rmtree(index_dir / _BUILDS, ignore_errors=True)


def write_report(index_dir: Path, report: dict) -> None:
    """The last build's report (skipped files and why, repairs), beside the builds."""
    write_atomic(index_dir / _REPORT, json.dumps(report, ensure_ascii=False, indent=1))


def read_report(index_dir: Path) -> dict | None:
    path = index_dir / _REPORT
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_chunks(path: Path) -> list[Chunk]:
    with path.open(encoding="utf-8") as fh:
        return [Chunk.from_json(json.loads(line)) for line in fh if line.strip()]


def write_index(
    index_dir: Path,
    manifest: dict,
    chunks: list[Chunk],
    vectors: np.ndarray,
    sentence_vectors: list[np.ndarray],
    faiss_index: faiss.Index,
    bm25: Bm25Index,
) -> Path:
    """`sentence_vectors`: one [sentences, dim] array per chunk, in chunk order."""
    """Write a complete build beside the current one, then switch to it."""
    dim = vectors.shape[1]
    builds = index_dir / _BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    _remove_partial_builds(builds)
    build_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]
    partial = builds / f"{build_id}.partial"
    partial.mkdir()
    with (partial / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
    np.save(partial / "vectors.npy", vectors.astype(np.float32), allow_pickle=False)
    counts = [len(v) for v in sentence_vectors]
    starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
    np.save(partial / "sentence_starts.npy", starts, allow_pickle=False)
    _save_rows(partial / "sentences.npy", sentence_vectors, int(starts[-1]), dim)
    dense.save_faiss(faiss_index, partial / "dense.faiss")
    bm25.save(partial / "bm25")
    # The manifest goes last: a build directory with one is complete.
    (partial / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    final = builds / build_id
    partial.rename(final)
    _point_current_at(index_dir, final)
    _remove_old_builds(builds, keep=final)
    return final


def _save_rows(path: Path, parts: list[np.ndarray], rows: int, dim: int) -> None:
    """Concatenate float16 rows straight into a memory-mapped .npy file: at
    200,000 chunks the sentence vectors outgrow what is worth holding twice."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(rows, dim))
    at = 0
    for part in parts:
        out[at : at + len(part)] = part
        at += len(part)
    out.flush()
    del out


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index directory; a second one fails fast."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".build.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"{index_dir} 正在被另一个导入任务更新。请等它结束后再运行。") from None
        yield


def _point_current_at(index_dir: Path, build: Path) -> None:
    tmp_link = index_dir / f".{_CURRENT}.{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(build.relative_to(index_dir))
    os.replace(tmp_link, index_dir / _CURRENT)  # atomic on POSIX


def _remove_partial_builds(builds: Path) -> None:
    for path in builds.glob("*.partial"):
        shutil.rmtree(path, ignore_errors=True)


def _remove_old_builds(builds: Path, keep: Path) -> None:
    for path in builds.iterdir():
        if path != keep and not path.name.endswith(".partial"):
            shutil.rmtree(path, ignore_errors=True)
