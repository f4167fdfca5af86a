"""Named knowledge bases: who may read each, and where its files and index live.

    DATA_DIR/index               the default knowledge base ("default"): the
                                 shipped corpus, or whatever `python -m ingest
                                 PATH...` mirrors into it
    DATA_DIR/kb/<id>/index       every other knowledge base's index
    DATA_DIR/kb/<id>/files       its documents, stored under their SHA-256

A knowledge base's id is a short ASCII name used in URLs, the API and the CLI;
its title (any text, Chinese) is what users see and what `rename` changes, so
keys, links and widgets that name the id keep working.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from sqlalchemy import delete, insert, select, update

from errors import InvalidInput, KbNotFound
from kb import state
from settings import Settings

DEFAULT_KB = "default"
DEFAULT_TITLE = "工会创新案例"
Visibility = Literal["public", "token", "users"]
VISIBILITIES: tuple[str, ...] = get_args(Visibility)
VISIBILITY_NAMES = {"public": "公开", "token": "凭密钥（小部件）", "users": "登录用户"}
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_READER = re.compile(r"@?[\w.\-]{1,100}")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class KnowledgeBase:
    id: str
    title: str
    visibility: Visibility
    readers: tuple[str, ...]  # for "users": names and @groups; empty: every signed-in user
    created: str

    @property
    def managed(self) -> bool:
        """Documents are uploaded (admin page, `ingest --kb`); the default one
        mirrors the paths given to `python -m ingest` on the server instead."""
        return self.id != DEFAULT_KB

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "visibility": self.visibility,
            "readers": list(self.readers),
            "managed": self.managed,
        }


def check_id(kb_id: str) -> str:
    if not _ID.fullmatch(kb_id or ""):
        raise InvalidInput(
            f"知识库标识 {kb_id!r} 无效：请用 1–40 个小写字母、数字、- 或 _，以字母或数字开头。"
        )
    return kb_id


def check_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title or len(title) > 100:
        raise InvalidInput("知识库名称不能为空，最多 100 个字。")
    return title


def check_visibility(visibility: str) -> Visibility:
    if visibility not in VISIBILITIES:
        raise InvalidInput(
            f"可见范围必须是 {' / '.join(VISIBILITIES)} 之一，而不是 {visibility!r}。"
        )
    return visibility  # type: ignore[return-value]


def check_readers(readers: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(r.strip() for r in readers if r.strip()))
    bad = [r for r in cleaned if not _READER.fullmatch(r)]
    if bad:
        raise InvalidInput(f"读者 {bad[0]!r} 无效：写用户名，或 @组名。")
    return cleaned


class Registry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = state.engine(settings)
        with self.engine.begin() as db:
            if db.execute(select(state.knowledge_bases.c.id).limit(1)).first() is None:
                db.execute(
                    insert(state.knowledge_bases).values(
                        id=DEFAULT_KB,
                        title=DEFAULT_TITLE,
                        visibility="public",
                        readers=[],
                        created=now(),
                    )
                )

    def all(self) -> list[KnowledgeBase]:
        with self.engine.connect() as db:
            rows = db.execute(select(state.knowledge_bases)).all()
        kbs = [_kb(row) for row in rows]
        return sorted(kbs, key=lambda kb: (kb.id != DEFAULT_KB, kb.created, kb.id))

    def get(self, kb_id: str) -> KnowledgeBase:
        with self.engine.connect() as db:
            row = db.execute(
                select(state.knowledge_bases).where(state.knowledge_bases.c.id == kb_id)
            ).first()
        if row is None:
            raise KbNotFound(
                f"没有标识为 {kb_id!r} 的知识库。用 python -m kb list 查看已有的知识库。"
            )
        return _kb(row)

    def create(
        self,
        kb_id: str,
        title: str,
        visibility: str = "public",
        readers: list[str] | tuple[str, ...] = (),
    ) -> KnowledgeBase:
        values = {
            "id": check_id(kb_id),
            "title": check_title(title),
            "visibility": check_visibility(visibility),
            "readers": list(check_readers(readers)),
            "created": now(),
        }
        with self.engine.begin() as db:
            if db.execute(
                select(state.knowledge_bases.c.id).where(state.knowledge_bases.c.id == kb_id)
            ).first():
                raise InvalidInput(f"知识库 {kb_id} 已经存在。")
            db.execute(insert(state.knowledge_bases).values(**values))
        return self.get(kb_id)

    def update(
        self,
        kb_id: str,
        *,
        title: str | None = None,
        visibility: str | None = None,
        readers: list[str] | tuple[str, ...] | None = None,
    ) -> KnowledgeBase:
        self.get(kb_id)
        values: dict = {}
        if title is not None:
            values["title"] = check_title(title)
        if visibility is not None:
            values["visibility"] = check_visibility(visibility)
        if readers is not None:
            values["readers"] = list(check_readers(readers))
        if values:
            with self.engine.begin() as db:
                db.execute(
                    update(state.knowledge_bases)
                    .where(state.knowledge_bases.c.id == kb_id)
                    .values(**values)
                )
        return self.get(kb_id)

    def delete(self, kb_id: str) -> None:
        """The knowledge base, its documents, index, feedback and keys."""
        kb = self.get(kb_id)
        if not kb.managed:
            raise InvalidInput("默认知识库不能删除（它由服务器上的 python -m ingest 维护）。")
        with self.engine.begin() as db:
            for table in (state.documents, state.widget_keys, state.feedback):
                db.execute(delete(table).where(table.c.kb == kb_id))
            db.execute(delete(state.knowledge_bases).where(state.knowledge_bases.c.id == kb_id))
        folder = self.folder(kb_id)
        if folder.exists():
            # Renamed first, so a half-deleted folder is never taken for a live one.
            trash = folder.with_name(f".deleted-{kb_id}-{now().replace(':', '')}")
            folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)

    def folder(self, kb_id: str) -> Path:
        return self.settings.kb_root() / check_id(kb_id)

    def index_dir(self, kb_id: str) -> Path:
        if kb_id == DEFAULT_KB:
            return self.settings.resolved_index_dir()
        return self.folder(kb_id) / "index"

    def files_dir(self, kb_id: str) -> Path:
        return self.folder(kb_id) / "files"

    def settings_for(self, kb_id: str) -> Settings:
        """The settings with this knowledge base's index directory."""
        return self.settings.model_copy(update={"index_dir": self.index_dir(kb_id)})


def _kb(row) -> KnowledgeBase:
    return KnowledgeBase(row.id, row.title, row.visibility, tuple(row.readers), row.created)
