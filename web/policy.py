"""Who is asking and what they may do — decided here, for every request,
before any route runs (`PolicyMiddleware`). Routes never check credentials.

Callers: a signed-in user (session cookie, or a trusted reverse proxy's user
header), a widget key (`Authorization: Bearer ghqa_…`, bound to one knowledge
base and to the pages it may be used from), the server-wide GHQA_API_TOKEN, or
anonymous. A bearer that is wrong or revoked is not anonymous: it is refused.

Routes fall in three classes, by path:
* public — `/api/health` (lists only what the caller may see), `/widget.js`,
  `/admin/login`, `/admin/logout`, `/admin/static/*`: anyone on the intranet;
* admin — everything else under `/admin`: signed-in admins, same origin only,
  and state changes carry the CSRF token (`X-CSRF-Token`);
* ask — everything else (the API, the chat page and all of Gradio's routes,
  including its queue and API): callers who may read at least one knowledge
  base. Which one they ask is checked by `Policy.knowledge_base`, called where
  the knowledge base is chosen (the API body, the page's selector).

Anything not listed is "ask", so a new route is closed by default; the
route-walking test (tests/test_policy.py) checks every route the app serves.
Also here: the origin allowlist and CORS, frame-ancestors, body size limits
(also for chunked bodies), per-caller rate limits on every request that can
make the server work (POST, PUT, PATCH, DELETE), and a JSON error instead of
any traceback or plain-text 500.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer

from kb import state
from kb.accounts import Account, Accounts, Keys, WidgetKey
from kb.registry import KnowledgeBase, Registry
from settings import Settings
from web.ratelimit import rate_limiter

SESSION_COOKIE = "ghqa_session"
CSRF_HEADER = "x-csrf-token"
LOGIN_PATH = "/admin/login"
LOGOUT_PATH = "/admin/logout"
PUBLIC_PATHS = frozenset({"/api/health", "/widget.js", LOGIN_PATH, LOGOUT_PATH})
PUBLIC_PREFIXES = ("/admin/static/",)
UPLOAD_PATH = re.compile(r"/admin/api/kbs/[^/]+/documents(/[^/]+)?")
PAGE_BODY_BYTES = 2**20  # the chat page's own requests carry the conversation so far
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RouteClass = Literal["public", "admin", "ask"]


def error_json(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def error_body(kind: str, message: str) -> bytes:
    return json.dumps(error_json(kind, message), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Caller:
    kind: Literal["anonymous", "user", "key", "server", "invalid"]
    client: str
    name: str = ""
    groups: tuple[str, ...] = ()
    admin: bool = False
    key: WidgetKey | None = None
    session: str = ""  # the session's nonce: the CSRF token is derived from it

    @property
    def id(self) -> str:
        """Whose rate limit a request counts against."""
        if self.kind == "user":
            return f"user:{self.name}"
        if self.kind == "key" and self.key:
            return f"key:{self.key.id}"
        return f"ip:{self.client}"

    @property
    def label(self) -> str:
        """Who did it, for the audit log."""
        return self.name or (f"key:{self.key.id}" if self.key else f"{self.kind}@{self.client}")


@dataclass(frozen=True)
class Denied(Exception):
    status: int
    kind: str
    message: str


class Policy:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.accounts = Accounts(settings)
        self.keys = Keys(settings)
        self.allowed_origins = frozenset(o.rstrip("/") for o in settings.allowed_origins)
        self._secret = settings.secret_key or state.secret_key(state.engine(settings))
        self._signer = URLSafeTimedSerializer(self._secret, salt="ghqa-session")
        self._proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self.limiter = rate_limiter(settings)

    # Who is asking

    def identify(self, headers: Mapping[str, str], peer: str, origin: str = "") -> Caller:
        """`headers` with lower-case names; `peer`: the connecting address;
        `origin`: the request's Origin when it is another site's (a key bound
        to origins works only from those)."""
        client = self._client_address(headers, peer)
        bearer = headers.get("authorization", "")
        if bearer:
            return self._bearer(bearer, client, origin)
        user = self._session(headers.get("cookie", ""), client) or self._proxy_user(
            headers, peer, client
        )
        return user or Caller("anonymous", client)

    def scheme(self, headers: Mapping[str, str], peer: str, scheme: str) -> str:
        """The scheme the visitor used: a trusted proxy that ends HTTPS says so
        in X-Forwarded-Proto (the page's own Origin is then https://...)."""
        forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded in ("http", "https") and self._from_proxy(peer):
            return forwarded
        return scheme

    def _client_address(self, headers: Mapping[str, str], peer: str) -> str:
        """Who is really connecting: behind a trusted proxy (nginx in front of
        replicas) the nearest address it forwarded that is not a proxy itself,
        so rate limits and the audit log see people, not the proxy."""
        if not self._from_proxy(peer):
            return peer
        hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._from_proxy(hop):
                return hop
        return peer

    def _bearer(self, header: str, client: str, origin: str) -> Caller:
        token = header.removeprefix("Bearer ").strip()
        if self.settings.api_token and hmac.compare_digest(
            token.encode(), self.settings.api_token.encode()
        ):
            return Caller("server", client)
        key = self.keys.verify(token)
        if key is None or (key.origins and origin and origin not in key.origins):
            return Caller("invalid", client)
        return Caller("key", client, key=key)

    def _session(self, cookie_header: str, client: str) -> Caller | None:
        value = _cookie(cookie_header, SESSION_COOKIE)
        if not value:
            return None
        try:
            data = self._signer.loads(value, max_age=self.settings.session_hours * 3600)
            name, nonce = data["u"], data["n"]
        except (BadSignature, KeyError, TypeError):
            return None
        account = self.accounts.get(name)  # a deleted account loses access at once
        if account is None:
            return None
        return Caller("user", client, account.name, account.groups, account.admin, session=nonce)

    def _proxy_user(self, headers: Mapping[str, str], peer: str, client: str) -> Caller | None:
        name = headers.get(self.settings.proxy_user_header.lower(), "").strip()
        if not name or not self._from_proxy(peer):
            return None
        groups = tuple(
            g.strip()
            for g in headers.get(self.settings.proxy_groups_header.lower(), "").split(",")
            if g.strip()
        )
        account = self.accounts.get(name)
        admin = bool(account and account.admin) or bool(
            set(groups) & set(self.settings.admin_groups)
        )
        groups = tuple(dict.fromkeys((*groups, *(account.groups if account else ()))))
        return Caller("user", client, name, groups, admin, session=f"proxy:{name}")

    def _from_proxy(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def session_cookie(self, account: Account) -> str:
        return self._signer.dumps({"u": account.name, "n": secrets.token_urlsafe(16)})

    def csrf_token(self, caller: Caller) -> str:
        return hmac.new(
            self._secret.encode(), f"csrf:{caller.session}".encode(), hashlib.sha256
        ).hexdigest()

    # What they may read

    def may_read(self, caller: Caller, kb: KnowledgeBase) -> bool:
        if caller.kind == "invalid":
            return False
        if caller.admin or caller.kind == "server":
            return True
        if caller.kind == "key":
            return caller.key is not None and caller.key.kb == kb.id
        if kb.visibility == "public":
            return caller.kind == "user" or not self.settings.api_token
        if kb.visibility == "users" and caller.kind == "user":
            if not kb.readers:
                return True
            return caller.name in kb.readers or any(f"@{g}" in kb.readers for g in caller.groups)
        return False

    def readable(self, caller: Caller) -> list[KnowledgeBase]:
        return [kb for kb in self.registry.all() if self.may_read(caller, kb)]

    def knowledge_base(self, caller: Caller, requested: str | None) -> KnowledgeBase:
        """The knowledge base to answer from: the one asked for if the caller may
        read it, else their first; an unknown and a forbidden one look the same."""
        readable = self.readable(caller)
        if caller.kind == "key" and caller.key and not requested:
            requested = caller.key.kb
        if not requested:
            if not readable:
                raise Denied(401, "unauthorized", "没有可访问的知识库：请登录或提供访问密钥。")
            return readable[0]
        for kb in readable:
            if kb.id == requested:
                return kb
        raise Denied(404, "kb_not_found", f"没有知识库 {requested}，或您无权访问它。")

    # What a route needs

    @staticmethod
    def route_class(path: str) -> RouteClass:
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return "public"
        if path == "/admin" or path.startswith("/admin/"):
            return "admin"
        return "ask"

    def body_limit(self, path: str) -> int:
        if UPLOAD_PATH.fullmatch(path):
            return self.settings.max_upload_request_bytes
        if path.startswith("/api/"):
            return self.settings.max_request_bytes
        return PAGE_BODY_BYTES

    def check(self, caller: Caller, method: str, path: str, headers: Mapping[str, str]) -> None:
        """Raises Denied when this caller may not make this request."""
        route = self.route_class(path)
        if route == "public":
            return
        if caller.kind == "invalid":
            raise Denied(401, "unauthorized", "访问密钥无效、已吊销，或不允许在此网页使用。")
        wants_page = method == "GET" and "text/html" in headers.get("accept", "")
        if route == "admin":
            if not caller.admin:
                if wants_page and caller.kind != "user":
                    raise Redirect(f"{LOGIN_PATH}?next={quote(path)}")
                if caller.kind == "user":
                    raise Denied(403, "forbidden", "需要管理员权限。")
                raise Denied(401, "unauthorized", "请先登录管理后台。")
            if method in UNSAFE_METHODS and not hmac.compare_digest(
                headers.get(CSRF_HEADER, ""), self.csrf_token(caller)
            ):
                raise Denied(403, "csrf", "页面已过期（CSRF 校验失败），请刷新管理页面后重试。")
            return
        if not self.readable(caller):
            if wants_page and caller.kind == "anonymous":
                raise Redirect(f"{LOGIN_PATH}?next={quote(path)}")
            if caller.kind == "anonymous":
                raise Denied(
                    401, "unauthorized", "请登录，或提供访问密钥（Authorization: Bearer …）。"
                )
            raise Denied(403, "forbidden", "您没有可访问的知识库，请联系管理员。")

    def origin_allowed(self, origin: str) -> bool:
        """Another site may call us: listed in GHQA_ALLOWED_ORIGINS, or on a live key."""
        return origin in self.allowed_origins or origin in self.keys.origins()


@dataclass(frozen=True)
class Redirect(Exception):
    location: str


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""
