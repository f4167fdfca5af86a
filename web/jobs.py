"""Index updates started from the admin page, run one at a time in the
background (one model, two cores), with progress the page polls."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from errors import GhqaError
from index.build import BuildReport
from kb.logs import AuditLog, timestamp

log = logging.getLogger(__name__)
_KEPT = 200  # finished jobs remembered for the page


@dataclass
class Job:
    id: str
    kb: str
    action: str  # what the admin asked for, in words
    by: str
    report: BuildReport
    state: str = "queued"  # queued | running | done | failed
    message: str = ""
    created: str = field(default_factory=timestamp)

    def progress(self) -> float:
        """0..1: reading files is the first tenth, embedding the rest."""
        if self.state in ("done", "failed"):
            return 1.0
        r = self.report
        seen = len(r.added) + len(r.changed) + len(r.unchanged) + len(r.skipped)
        read = seen / r.files_total if r.files_total else 0.0
        embedded = r.embedded / r.to_embed if r.to_embed else read
        return round(min(0.99, 0.1 * read + 0.9 * embedded), 3)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kb": self.kb,
            "action": self.action,
            "state": self.state,
            "message": self.message,
            "progress": self.progress(),
            "embedded": self.report.embedded,
            "to_embed": self.report.to_embed,
            "report": self.report.to_json() if self.state == "done" else None,
        }


class Jobs:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._runner = ThreadPoolExecutor(1, thread_name_prefix="index-job")

    def submit(
        self, kb: str, action: str, by: str, work: Callable[[BuildReport], BuildReport]
    ) -> Job:
        job = Job(secrets.token_hex(8), kb, action, by, BuildReport())
        with self._lock:
            self._jobs[job.id] = job
            for old in list(self._jobs)[:-_KEPT]:
                del self._jobs[old]
        self._runner.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def _run(self, job: Job, work: Callable[[BuildReport], BuildReport]) -> None:
        job.state = "running"
        try:
            work(job.report)
        except GhqaError as exc:
            job.state, job.message = "failed", str(exc)
        except Exception as exc:  # the page must hear about it; the log keeps the trace
            log.exception("index job %s failed", job.id)
            job.state, job.message = (
                "failed",
                f"更新索引失败（{type(exc).__name__}），知识库保持原样。",
            )
        else:
            job.state = "done"
        self.audit.add(job.by, job.action, job.kb, job.state, message=job.message)
