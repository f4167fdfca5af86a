"""From paths on disk to chunks: find files, load, split into cases, chunk."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from errors import CorpusEmpty, CorpusNotFound
from ingest.chunking import chunk_sections, make_splitter
from ingest.loaders import load_document
from ingest.profile import profile_for
from ingest.records import Chunk
from ingest.structure import structure


@dataclass(frozen=True)
class IngestedFile:
    source: str
    name: str
    sha256: str
    cases: int
    chunks: tuple[Chunk, ...]
    profile: str = "none"  # the corpus profile applied (ingest/profile.py)
    repairs: tuple[str, ...] = ()  # what the profile changed, in words, for the build report


def collect_files(paths: list[Path]) -> list[Path]:
    """Every file under the given paths (hidden ones excluded), in stable order."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise CorpusNotFound(f"找不到语料路径：{path}。请检查路径是否正确。")
        if path.is_file():
            found.append(path)
            continue
        found.extend(
            p
            for p in sorted(path.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    if not found:
        shown = "、".join(str(p) for p in paths)
        raise CorpusEmpty(f"语料路径中没有文件：{shown}。请放入 .txt/.md/.docx/.pdf/.html 文件。")
    unique = dict.fromkeys(p.resolve() for p in found)
    return list(unique)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_file(
    path: Path,
    chunk_size: int,
    chunk_overlap: int,
    profile: str | None = None,
    profile_dir: Path | None = None,
    name: str | None = None,
) -> IngestedFile:
    """Load, clean, split and chunk one file; raises UnsupportedDocument.
    `profile`: a corpus profile's name to force (default: the one that lists
    this file's hash, if any). `name`: the name shown for the file, if not its own."""
    doc = load_document(path, name)
    chosen = profile_for(doc.sha256, profile, profile_dir)
    sections, moves = structure(doc, chosen)
    chunks = chunk_sections(sections, doc.source, make_splitter(chunk_size, chunk_overlap))
    cases = sum(1 for s in sections if s.organisation)
    repairs = tuple(m.describe() for m in moves)
    return IngestedFile(
        doc.source, doc.name, doc.sha256, cases, tuple(chunks), chosen.name, repairs
    )
