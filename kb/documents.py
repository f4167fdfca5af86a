"""The documents of a managed knowledge base, and changing them all or nothing.

Files are stored under their SHA-256 (`files/<sha256>.<kind>`); the name a user
gave is metadata, shown but never used as a path. A change (add, replace,
remove) is recorded, then the index is updated incrementally (only the changed
documents' passages are embedded); if anything fails on the way the record
and the files go back to what they were, and the index was never swapped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import delete, insert, select

from atomic import write_atomic
from errors import InvalidInput
from index.build import BuildReport, update_index
from index.embedder import Embedder
from index.storage import storage_for
from ingest.safety import check_upload, display_name, unreadable
from kb import state
from kb.registry import Registry, now


@dataclass(frozen=True)
class Upload:
    """A file that passed every check, ready to store."""

    name: str
    kind: str
    data: bytes

    @cached_property
    def sha256(self) -> str:  # asked for several times per change; files are large
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class StoredDocument:
    sha256: str
    name: str
    kind: str
    size: int
    added_by: str
    added: str

    @property
    def file_name(self) -> str:
        return f"{self.sha256}.{self.kind}"

    def to_json(self) -> dict:
        return {
            "id": self.sha256,
            "name": self.name,
            "kind": self.kind,
            "size": self.size,
            "added_by": self.added_by,
            "added": self.added,
        }


def accept(
    files: list[tuple[str, bytes]], max_bytes: int, timeout: float
) -> tuple[list[Upload], list[str]]:
    """Check incoming (name, bytes) completely: name, size, type by content,
    zip safety, readable text within the time limit. The files that passed,
    and one line per file that did not."""
    checked, problems = [], []
    for raw_name, data in files:
        try:
            name = display_name(raw_name)
            checked.append(Upload(name, check_upload(name, data, max_bytes), data))
        except InvalidInput as exc:
            problems.append(str(exc))
    reasons = unreadable([(u.kind, u.data) for u in checked], timeout)
    problems += [f"{u.name}：{why}" for u, why in zip(checked, reasons, strict=True) if why]
    return [u for u, why in zip(checked, reasons, strict=True) if not why], problems


class Documents:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.engine = registry.engine

    def list(self, kb: str) -> list[StoredDocument]:
        with self.engine.connect() as db:
            rows = db.execute(
                select(state.documents)
                .where(state.documents.c.kb == kb)
                .order_by(state.documents.c.added, state.documents.c.name)
            ).all()
        return [StoredDocument(r.sha256, r.name, r.kind, r.size, r.added_by, r.added) for r in rows]

    def change(
        self,
        kb: str,
        *,
        add: list[Upload] = (),
        remove: list[str] = (),
        by: str,
        embedder: Embedder | None = None,
        report: BuildReport | None = None,
    ) -> BuildReport:
        """Add documents (one with the name of an existing document replaces it)
        and remove others by id, then update the index; all or nothing."""
        if not self.registry.get(kb).managed:
            raise InvalidInput("默认知识库由服务器上的 python -m ingest 维护，不能在这里增删文档。")
        before = self.list(kb)
        known = {d.sha256 for d in before}
        missing = [sha for sha in remove if sha not in known]
        if missing:
            raise InvalidInput(f"知识库 {kb} 中没有编号为 {missing[0]} 的文档。")
        replaced = {u.name for u in add}
        after = [d for d in before if d.sha256 not in remove and d.name not in replaced]
        stamp = now()
        for upload in add:
            if upload.sha256 not in {d.sha256 for d in after}:
                after.append(
                    StoredDocument(
                        upload.sha256, upload.name, upload.kind, len(upload.data), by, stamp
                    )
                )
        files = self.registry.files_dir(kb)
        written = [self._write(files, upload) for upload in add]
        self._record(kb, after)
        try:
            built = self._index(kb, after, embedder, report)
        except BaseException:
            self._record(kb, before)
            self._drop_unused(files, before, candidates=written)
            raise
        self._drop_unused(files, after, candidates=[files / d.file_name for d in before])
        return built

    def rebuild(
        self, kb: str, embedder: Embedder | None = None, report: BuildReport | None = None
    ) -> BuildReport:
        """Bring the index in line with the recorded documents (after a change the
        server was stopped in the middle of); unchanged passages are reused."""
        return self._index(kb, self.list(kb), embedder, report)

    def _index(
        self,
        kb: str,
        documents: list[StoredDocument],
        embedder: Embedder | None,
        report: BuildReport | None,
    ) -> BuildReport:
        settings = self.registry.settings_for(kb)
        report = report or BuildReport()
        report.index_dir = settings.resolved_index_dir()
        if not documents:
            storage = storage_for(settings)
            storage.remove()
            storage.write_report(report.to_json())
            return report
        files = self.registry.files_dir(kb)
        names = {files / d.file_name: d.name for d in documents}
        return update_index(
            settings, list(names), embedder=embedder, progress=False, report=report, names=names
        )

    def _write(self, files: Path, upload: Upload) -> Path:
        path = files / f"{upload.sha256}.{upload.kind}"
        if not path.exists():  # same bytes, same name: already stored
            write_atomic(path, upload.data)
        return path

    def _record(self, kb: str, documents: list[StoredDocument]) -> None:
        with self.engine.begin() as db:
            db.execute(delete(state.documents).where(state.documents.c.kb == kb))
            for d in documents:
                db.execute(
                    insert(state.documents).values(
                        kb=kb,
                        sha256=d.sha256,
                        name=d.name,
                        kind=d.kind,
                        size=d.size,
                        added_by=d.added_by,
                        added=d.added,
                    )
                )

    def _drop_unused(self, files: Path, keep: list[StoredDocument], candidates: list[Path]) -> None:
        kept = {files / d.file_name for d in keep}
        for path in candidates:
            if path not in kept:
                path.unlink(missing_ok=True)
