"""A whole site on loopback with knowledge bases, accounts and keys, for the
policy, admin and upload tests (the hashing embedder stands in for the model)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from starlette.routing import Mount

from app import create_server
from index.build import update_index
from kb.accounts import Accounts, Keys
from kb.library import Library
from kb.registry import Registry
from settings import SHIPPED_CORPUS, Settings
from tests.fakes import HashingEmbedder
from tests.servers import LoopbackServer

EMBEDDER = HashingEmbedder()
PASSWORD = "correct horse battery"
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def staff_site_settings(data_dir, **overrides) -> Settings:
    """The shipped corpus as the default knowledge base, readable by @staff only."""
    settings = Settings(
        data_dir=data_dir,
        model="fake-hashing-embedder",
        answer_threshold=0.0,
        rate_limit_per_minute=100_000,
        **overrides,
    )
    update_index(settings, [SHIPPED_CORPUS], embedder=EMBEDDER, progress=False)
    Registry(settings).update("default", visibility="users", readers=["@staff"])
    accounts = Accounts(settings)
    accounts.add("admin", PASSWORD, admin=True)
    accounts.add("alice", PASSWORD, groups=("staff",))
    accounts.add("bob", PASSWORD)
    return settings


@dataclass
class Keyring:
    live: str
    revoked: str


def make_keys(settings: Settings, origins=()) -> Keyring:
    keys = Keys(settings)
    _, live = keys.create("default", origins, "测试")
    revoked_key, revoked = keys.create("default", origins, "吊销的")
    keys.revoke(revoked_key.id)
    return Keyring(live, revoked)


def serve(settings: Settings) -> LoopbackServer:
    library = Library(Registry(settings), embedder=EMBEDDER)
    server = LoopbackServer(create_server(library))
    server.library = library
    return server


def signed_in(url: str, name: str) -> httpx.Client:
    """A client with `name`'s session cookie and the CSRF header admin changes need."""
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/admin/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    me = client.get("/admin/api/me")
    if me.status_code == 200:
        client.headers["X-CSRF-Token"] = me.json()["csrf"]
    return client


def routes(app) -> list[tuple[str, str, str]]:
    """Every (method, path template, concrete path) the app serves, found by
    walking its routers and mounts: a route added later is included."""
    found = []

    def walk(entries, prefix: str) -> None:
        for route in entries:
            if isinstance(route, Mount):
                walk(getattr(route.app, "routes", route.routes), prefix + route.path)
            elif hasattr(route, "original_router"):  # FastAPI's included routers
                walk(route.original_router.routes, prefix)
            else:
                path = prefix + route.path
                concrete = _PARAM.sub(lambda m: "default" if "kb" in m[1] else "x", path)
                for method in sorted(getattr(route, "methods", None) or {"GET"}):
                    found.append((method, path, concrete))

    walk(app.routes, "")
    return found
