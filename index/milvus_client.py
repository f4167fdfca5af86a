"""Talking to Milvus: one client per address and process, and every call's
failure turned into a one-line BackendUnavailable that says what to check
(pymilvus, grpc and milvus_lite each raise their own kinds)."""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from errors import BackendUnavailable
from settings import Settings

_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def is_lite(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "grpc://"))


def connect(settings: Settings):
    """One client per Milvus address and process (a Lite file can be opened by
    one process only); raises BackendUnavailable saying what to check."""
    from pymilvus import MilvusClient

    uri = settings.resolved_milvus_uri()
    key = (uri, settings.milvus_token, settings.milvus_database)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        options = {"uri": uri, "timeout": 10}
        if settings.milvus_token:
            options["token"] = settings.milvus_token
        if settings.milvus_database:
            options["db_name"] = settings.milvus_database
        # pymilvus logs every failed call with its traceback (and, on Lite, that
        # it has no MVCC timestamps for iterators, on every page): the one-line
        # BackendUnavailable raised here says it once, where the caller can act.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        if is_lite(uri):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            client = MilvusClient(**options)
        except Exception as exc:  # pymilvus, grpc and milvus_lite each raise their own
            if is_lite(uri) and _held_elsewhere(Path(uri)):
                raise BackendUnavailable(_locked(uri)) from exc
            raise BackendUnavailable(_unreachable(uri, exc)) from exc
        _clients[key] = client
        return client


def _forget_client(settings: Settings) -> None:
    """After a failed call: the next one connects again (a restarted server)."""
    key = (settings.resolved_milvus_uri(), settings.milvus_token, settings.milvus_database)
    with _clients_lock:
        _clients.pop(key, None)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _is_connection_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("connect", "unavailable", "deadline", "timeout", "closed"))


def _held_elsewhere(database: Path) -> bool:
    """Whether another process holds the Lite database's lock (pymilvus
    reports only that opening failed)."""
    lock = database / "LOCK"
    if not lock.exists():
        return False
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def _locked(uri: str) -> str:
    return (
        f"Milvus Lite 数据库 {uri} 正被另一个进程使用（例如正在运行的 app.py）："
        "先停止它再建索引，或让多个进程共用一台 Milvus 服务器（GHQA_MILVUS_URI=http://主机:19530）。"
    )


def _unreachable(uri: str, exc: BaseException) -> str:
    detail = _one_line(exc)
    return (
        f"无法连接 Milvus（{uri}）：{detail}。请确认 Milvus 正在运行，"
        "且 GHQA_MILVUS_URI / GHQA_MILVUS_TOKEN 设置正确。"
    )


class Calls:
    """Every Milvus call goes through here, so a server going away becomes a
    BackendUnavailable with a clear message and the next call reconnects."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri = settings.resolved_milvus_uri()

    @property
    def client(self):
        return connect(self.settings)

    @contextmanager
    def guarded(self) -> Iterator[None]:
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as exc:
            if not _is_connection_error(exc):
                raise BackendUnavailable(
                    f"Milvus（{self.uri}）拒绝了请求：{_one_line(exc)}。"
                    "如果索引是旧版本建的，请重新建索引：GHQA_BACKEND=milvus python -m ingest "
                    f"--rebuild --index-dir {self.settings.resolved_index_dir()}"
                ) from exc
            _forget_client(self.settings)
            raise BackendUnavailable(_unreachable(self.uri, exc)) from exc
        except (ConnectionError, OSError) as exc:
            _forget_client(self.settings)
            raise BackendUnavailable(_unreachable(self.uri, exc)) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("grpc"):
                _forget_client(self.settings)
                raise BackendUnavailable(_unreachable(self.uri, exc)) from exc
            raise


def literal(value: str) -> str:
    """A Milvus string literal (Milvus Lite has no filter parameters)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scan(calls: Calls, collection: str, fields: list[str], where: str = "") -> list[dict]:
    """Every row (or every row matching `where`), a page at a time."""
    with calls.guarded():
        pages = calls.client.query_iterator(
            collection, batch_size=2000, filter=where, output_fields=fields
        )
        rows: list[dict] = []
        while page := pages.next():
            rows.extend(page)
        pages.close()
    return rows
