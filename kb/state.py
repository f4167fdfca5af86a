"""The one database behind knowledge bases, documents, accounts, keys,
feedback and the audit log — shared by every replica of the app.

SQLite in DATA_DIR/state by default (one file, transactions, safe for several
threads and for the CLI running beside the server); PostgreSQL (or any
database SQLAlchemy speaks) with GHQA_DATABASE_URL, so replicas behind a load
balancer share sign-ins, keys and settings. The schema is created and upgraded
by the Alembic migrations in kb/migrations when the engine is first made.
"""

from __future__ import annotations

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
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from settings import Settings

metadata = MetaData()
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

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

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kb", String(40), nullable=False, index=True),
    Column("time", String(32), nullable=False),
    Column("liked", Boolean, nullable=False),
    Column("question", Text, nullable=False),
    Column("searched", Text, nullable=False),
    Column("answer", JSON, nullable=False),  # the Answer's JSON: text, citations, notes
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", String(32), nullable=False),
    Column("who", String(200), nullable=False),
    Column("action", Text, nullable=False),
    Column("target", String(200), nullable=False),
    Column("result", String(20), nullable=False),
    Column("details", JSON, nullable=False),
)


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{settings.state_dir().resolve() / 'state.db'}"


def engine(settings: Settings) -> Engine:
    return engine_for(database_url(settings))


@cache
def engine_for(url: str) -> Engine:
    """One engine per database, shared by everything in the process, its
    schema migrated to the current version."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    made = create_engine(url, pool_pre_ping=True)
    if made.dialect.name == "sqlite":

        @event.listens_for(made, "connect")
        def _pragmas(connection, _record) -> None:
            # WAL: readers never wait for the writer; busy_timeout: a second writer
            # (the CLI while the server runs) waits instead of failing.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=10000")

    migrate(made)
    return made


def migrate(target: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is there)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with target.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def secret_key(target: Engine) -> str:
    """The key that signs cookies: made once, kept in the shared database so
    every replica signs and checks with the same one."""
    query = select(server_secrets.c.value).where(server_secrets.c.name == "session")
    with target.begin() as db:
        found = db.execute(query).scalar()
        if found:
            return found
    try:
        with target.begin() as db:
            db.execute(
                insert(server_secrets).values(name="session", value=secrets.token_urlsafe(48))
            )
    except IntegrityError:
        pass  # another replica made it first: use theirs
    with target.connect() as db:
        return db.execute(query).scalar_one()
