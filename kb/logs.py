"""👍/👎 feedback per knowledge base, and the audit log of admin actions (who,
when, what, on what, result): rows in the shared database, so every replica
writes to and reviews the same ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from kb import state
from settings import Settings


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Feedback:
    def __init__(self, settings: Settings) -> None:
        self.engine = state.engine(settings)

    def add(
        self, kb: str, liked: bool, question: str, searched: str, answer: dict, time: str = ""
    ) -> None:
        with self.engine.begin() as db:
            db.execute(
                insert(state.feedback).values(
                    kb=kb,
                    time=time or timestamp(),
                    liked=liked,
                    question=question,
                    searched=searched,
                    answer=answer,
                )
            )

    def read(self, kb: str | None = None) -> list[dict]:
        """Newest first; of one knowledge base, or of all."""
        table = state.feedback
        query = select(
            table.c.kb, table.c.time, table.c.liked, table.c.question, table.c.searched,
            table.c.answer,
        ).order_by(table.c.time.desc(), table.c.id.desc())  # fmt: skip
        if kb:
            query = query.where(table.c.kb == kb)
        with self.engine.connect() as db:
            return [dict(r._mapping) for r in db.execute(query)]

    def import_jsonl(self, path: Path, kb: str) -> int:
        """Feedback kept in a JSON-lines file by an earlier version: moved into
        the database once (the file is renamed *.imported, not deleted)."""
        if not path.exists():
            return 0
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a torn last line from a crash mid-write
        rows = [
            {
                "kb": kb,
                "time": r.get("time", ""),
                "liked": bool(r.get("liked")),
                "question": r.get("question", ""),
                "searched": r.get("searched", ""),
                "answer": r.get("answer") or {},
            }
            for r in records
        ]
        if rows:
            with self.engine.begin() as db:
                db.execute(insert(state.feedback), rows)
        path.rename(path.with_suffix(".jsonl.imported"))
        return len(records)


class AuditLog:
    def __init__(self, settings: Settings) -> None:
        self.engine = state.engine(settings)

    def add(self, who: str, action: str, target: str, result: str, **details: object) -> None:
        with self.engine.begin() as db:
            db.execute(
                insert(state.audit).values(
                    time=timestamp(),
                    who=who,
                    action=action,
                    target=target,
                    result=result,
                    details=details,
                )
            )

    def read(self, last: int = 100) -> list[dict]:
        """The latest `last` actions, newest first."""
        query = select(state.audit).order_by(state.audit.c.id.desc()).limit(last)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [
            {
                "time": r.time,
                "who": r.who,
                "action": r.action,
                "target": r.target,
                "result": r.result,
                **r.details,
            }
            for r in rows
        ]
