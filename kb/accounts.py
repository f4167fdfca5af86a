"""Local accounts (passwords hashed with Argon2) and widget keys (stored hashed).

A widget key reads `ghqa_<id>_<secret>`: the id finds the record, the secret is
compared with its SHA-256 in constant time. Keys are long random strings, so a
fast hash is enough for them; passwords are short human choices and get Argon2.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update

from errors import InvalidInput
from kb import state
from kb.registry import now
from settings import Settings

MIN_PASSWORD = 8
_NAME = re.compile(r"[\w.\-]{1,100}")
_GROUP = re.compile(r"[\w.\-]{1,100}")
_KEY = re.compile(r"ghqa_([0-9a-f]{12})_([A-Za-z0-9_\-]{20,100})")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?")
_hasher = PasswordHasher()
# Verified against when the account does not exist, so a missing name costs
# the same time as a wrong password and timing does not tell names apart.
_DUMMY_HASH = _hasher.hash("not a password")


@dataclass(frozen=True)
class Account:
    name: str
    admin: bool
    groups: tuple[str, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "admin": self.admin, "groups": list(self.groups)}


@dataclass(frozen=True)
class WidgetKey:
    id: str
    kb: str
    origins: tuple[str, ...]  # pages that may use it; empty: any (for server-side callers)
    label: str
    created: str
    revoked: str | None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kb": self.kb,
            "origins": list(self.origins),
            "label": self.label,
            "created": self.created,
            "revoked": self.revoked,
        }


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise InvalidInput(f"用户名 {name!r} 无效：请用字母、数字、汉字、. - _，最多 100 个字符。")
    return name


def check_origins(origins: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(o.strip().rstrip("/") for o in origins if o.strip()))
    bad = [o for o in cleaned if not _ORIGIN.fullmatch(o)]
    if bad:
        raise InvalidInput(f"来源 {bad[0]!r} 无效：写成 http://主机[:端口] 的形式。")
    return cleaned


class Accounts:
    def __init__(self, settings: Settings) -> None:
        self.engine = state.engine(settings)

    def add(
        self, name: str, password: str, admin: bool = False, groups: tuple[str, ...] = ()
    ) -> Account:
        check_name(name)
        groups = tuple(dict.fromkeys(g.strip() for g in groups if g.strip()))
        if any(not _GROUP.fullmatch(g) for g in groups):
            raise InvalidInput("组名只能用字母、数字、汉字、. - _。")
        with self.engine.begin() as db:
            if db.execute(
                select(state.accounts.c.name).where(state.accounts.c.name == name)
            ).first():
                raise InvalidInput(f"用户 {name} 已经存在。")
            db.execute(
                insert(state.accounts).values(
                    name=name,
                    password_hash=_hash(password),
                    admin=admin,
                    groups=list(groups),
                    created=now(),
                )
            )
        return Account(name, admin, groups)

    def set_password(self, name: str, password: str) -> None:
        with self.engine.begin() as db:
            done = db.execute(
                update(state.accounts)
                .where(state.accounts.c.name == name)
                .values(password_hash=_hash(password))
            )
        if not done.rowcount:
            raise InvalidInput(f"没有用户 {name}。")

    def delete(self, name: str) -> None:
        with self.engine.begin() as db:
            done = db.execute(delete(state.accounts).where(state.accounts.c.name == name))
        if not done.rowcount:
            raise InvalidInput(f"没有用户 {name}。")

    def all(self) -> list[Account]:
        with self.engine.connect() as db:
            rows = db.execute(select(state.accounts).order_by(state.accounts.c.name)).all()
        return [Account(r.name, r.admin, tuple(r.groups)) for r in rows]

    def get(self, name: str) -> Account | None:
        with self.engine.connect() as db:
            row = db.execute(select(state.accounts).where(state.accounts.c.name == name)).first()
        return Account(row.name, row.admin, tuple(row.groups)) if row else None

    def verify(self, name: str, password: str) -> Account | None:
        """The account when the password is right, else None."""
        with self.engine.connect() as db:
            row = db.execute(select(state.accounts).where(state.accounts.c.name == name)).first()
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return Account(row.name, row.admin, tuple(row.groups)) if row else None


def _hash(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD} 个字符。")
    return _hasher.hash(password)


class Keys:
    def __init__(self, settings: Settings) -> None:
        self.engine = state.engine(settings)

    def create(
        self, kb: str, origins: list[str] | tuple[str, ...] = (), label: str = ""
    ) -> tuple[WidgetKey, str]:
        """The new key's record and its full text, which is shown once and not kept."""
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        record = WidgetKey(key_id, kb, check_origins(origins), label.strip()[:100], now(), None)
        with self.engine.begin() as db:
            db.execute(
                insert(state.widget_keys).values(
                    id=key_id,
                    kb=kb,
                    secret_hash=_digest(secret),
                    origins=list(record.origins),
                    label=record.label,
                    created=record.created,
                )
            )
        return record, f"ghqa_{key_id}_{secret}"

    def for_kb(self, kb: str) -> list[WidgetKey]:
        with self.engine.connect() as db:
            rows = db.execute(
                select(state.widget_keys)
                .where(state.widget_keys.c.kb == kb)
                .order_by(state.widget_keys.c.created)
            ).all()
        return [_key(r) for r in rows]

    def revoke(self, key_id: str) -> WidgetKey:
        with self.engine.begin() as db:
            db.execute(
                update(state.widget_keys)
                .where(state.widget_keys.c.id == key_id, state.widget_keys.c.revoked.is_(None))
                .values(revoked=now())
            )
            row = db.execute(
                select(state.widget_keys).where(state.widget_keys.c.id == key_id)
            ).first()
        if row is None:
            raise InvalidInput(f"没有编号为 {key_id} 的密钥。")
        return _key(row)

    def origins(self) -> set[str]:
        """The pages live keys may be used from (they may call us cross-origin)."""
        with self.engine.connect() as db:
            rows = db.execute(
                select(state.widget_keys.c.origins).where(state.widget_keys.c.revoked.is_(None))
            ).all()
        return {origin for (origins,) in rows for origin in origins}

    def verify(self, token: str) -> WidgetKey | None:
        """The live key this text is, else None (unknown, wrong secret or revoked)."""
        match = _KEY.fullmatch(token or "")
        if not match:
            return None
        with self.engine.connect() as db:
            row = db.execute(
                select(state.widget_keys).where(state.widget_keys.c.id == match[1])
            ).first()
        if row is None or row.revoked:
            return None
        if not hmac.compare_digest(row.secret_hash, _digest(match[2])):
            return None
        return _key(row)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(row) -> WidgetKey:
    return WidgetKey(row.id, row.kb, tuple(row.origins), row.label, row.created, row.revoked)
