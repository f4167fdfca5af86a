"""The one database behind knowledge bases, documents, accounts and keys.

SQLite in DATA_DIR/state by default (one file, transactions, safe for several
threads and for the CLI running beside the server). SQLAlchemy Core keeps the
schema in one place and the engine swappable.
"""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
)

metadata = MetaData()

knowledge_bases = Table(
    "knowledge_bases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("title", String(100), nullable=False),
    Column("visibility", String(10), nullable=False),  # public | token | users
    Column("readers", JSON, nullable=False),  # ["alice", "@staff"]: users and @groups
    Column("created", String(32), nullable=False),
)

documents = Table(
    "documents",
    metadata,
    Column("kb", String(40), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("name", String(255), nullable=False),  # shown to users, never used as a path
    Column("kind", String(8), nullable=False),  # txt | md | docx | pdf | html, sniffed
    Column("size", Integer, nullable=False),
    Column("added_by", String(100), nullable=False),
    Column("added", String(32), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("admin", Boolean, nullable=False),
    Column("groups", JSON, nullable=False),
    Column("created", String(32), nullable=False),
)

widget_keys = Table(
    "widget_keys",
    metadata,
    Column("id", String(16), primary_key=True),  # the public part of the key
    Column("kb", String(40), nullable=False),
    Column("secret_hash", String(64), nullable=False),  # SHA-256 of the secret part
    Column("origins", JSON, nullable=False),
    Column("label", String(100), nullable=False),
    Column("created", String(32), nullable=False),
    Column("revoked", String(32)),
)


@cache
def engine_for(state_dir: Path) -> Engine:
    """One engine per database file, shared by everything in the process."""
    state_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{state_dir / 'state.db'}")

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:
        # WAL: readers never wait for the writer; busy_timeout: a second writer
        # (the CLI while the server runs) waits instead of failing.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA busy_timeout=10000")

    metadata.create_all(engine)
    return engine


def secret_key(state_dir: Path) -> str:
    """The key that signs cookies: made once, kept readable by the owner only."""
    path = state_dir / "secret_key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # first writer wins; a racing one reads its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
