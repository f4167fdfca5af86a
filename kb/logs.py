"""Append-only JSON-lines logs: 👍/👎 feedback per knowledge base, and the
audit log of admin actions (who, when, what, on what, result)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class JsonLines:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of one line on an O_APPEND file: records never interleave.
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)

    def read(self, last: int | None = None) -> list[dict]:
        """Records oldest first (the `last` n only, when given); a torn last
        line (a crash mid-write) is skipped, not fatal."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        records = []
        for line in lines[-last:] if last else lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records


class AuditLog(JsonLines):
    def add(self, who: str, action: str, target: str, result: str, **details: object) -> None:
        self.append(
            {
                "time": timestamp(),
                "who": who,
                "action": action,
                "target": target,
                "result": result,
                **details,
            }
        )
