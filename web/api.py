"""The HTTP API and the widget script, served by the same process as the page.

    POST /api/ask     {"question", "kb"?, "history"?, "k"?, "retrieved"?, "where"?} ->
                      answer with citations (and, with "retrieved": n, the n best-ranked
                      passages); "kb" defaults to the caller's first knowledge base (a
                      key's own); "where" limits the search to passages with these
                      field values, e.g. {"organisation": "福建龙岩市总工会"}
    GET  /api/health  status, model, and the knowledge bases this caller may read
    GET  /widget.js   the embeddable chat widget

Who may call what is decided before these run (web/policy.py); here the
policy only picks the knowledge base. Errors are JSON {"error": {"type",
"message"}} with the matching status.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from errors import BackendUnavailable, EmptyQuestion, IndexNotFound, ManifestMismatch
from index.collection import FILTERABLE, Where
from index.storage import storage_for
from kb.library import Library
from web.policy import Caller, Denied, Policy, error_json

WIDGET_JS = Path(__file__).resolve().parent / "static" / "widget.js"
MAX_K = 10
MAX_RETRIEVED = 20
MAX_WHERE_CHARS = 200


class BadRequest(Exception):
    """400: the message says what is wrong with the request."""


def json_error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(error_json(kind, message), status_code=status)


def caller_of(request: Request) -> Caller:
    """Who is asking, as the guard identified them before the route ran."""
    return request.state.caller


@dataclass(frozen=True)
class AskRequest:
    question: str
    kb: str | None
    previous: list[str]
    k: int | None
    retrieved: int  # how many ranked passages to return besides the answer (evaluation)
    where: Where = ()  # only passages with these field values


def parse_ask(body: bytes) -> AskRequest:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("请求体必须是 UTF-8 编码的 JSON 对象。") from None
    if not isinstance(data, dict) or not isinstance(data.get("question"), str):
        raise BadRequest("缺少字段 question（字符串）。")
    history = data.get("history") or []
    if not isinstance(history, list):
        raise BadRequest("history 必须是数组：之前的问题（字符串）或 {role, content} 消息。")
    previous = [
        h if isinstance(h, str) else h.get("content", "")
        for h in history
        if isinstance(h, str) or (isinstance(h, dict) and h.get("role") == "user")
    ]
    k = data.get("k")
    if k is not None and not _int_between(k, 1, MAX_K):
        raise BadRequest(f"k 必须是 1 到 {MAX_K} 之间的整数。")
    kb = data.get("kb")
    if kb is not None and not isinstance(kb, str):
        raise BadRequest("kb 必须是知识库标识（字符串）。")
    retrieved = data.get("retrieved", 0)
    if not _int_between(retrieved, 0, MAX_RETRIEVED):
        raise BadRequest(f"retrieved 必须是 0 到 {MAX_RETRIEVED} 之间的整数。")
    previous = [p for p in previous if isinstance(p, str)]
    return AskRequest(
        data["question"], kb or None, previous, k, retrieved, parse_where(data.get("where"))
    )


def parse_where(value: object) -> Where:
    """{"organisation": "福建龙岩市总工会"} -> (("organisation", "福建龙岩市总工会"),)."""
    if value is None:
        return ()
    fields = "、".join(FILTERABLE)
    if not isinstance(value, dict) or not value:
        raise BadRequest(f'where 必须是对象，例如 {{"organisation": "…"}}；可用字段：{fields}。')
    for name, wanted in value.items():
        if name not in FILTERABLE:
            raise BadRequest(f"where 不能按 {name} 筛选；可用字段：{fields}。")
        if not isinstance(wanted, str) or not 0 < len(wanted) <= MAX_WHERE_CHARS:
            raise BadRequest(f"where.{name} 必须是 1 到 {MAX_WHERE_CHARS} 个字的字符串。")
    return tuple(sorted(value.items()))


def _int_between(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def shared_state(library: Library, policy: Policy) -> dict:
    """The index backend, database and rate limiter replicas share, and
    whether they answer (where they are is not said: health is public)."""
    backend = storage_for(library.settings).problem() == ""
    engine = library.registry.engine
    try:
        with engine.connect() as db:
            db.execute(text("SELECT 1"))
        database = True
    except SQLAlchemyError:
        database = False
    limiter = policy.limiter
    return {
        "backend": {"kind": library.settings.backend, "reachable": backend},
        "database": {"kind": engine.dialect.name, "reachable": database},
        "rate_limit": {
            "kind": limiter.kind,
            "reachable": limiter.reachable(),
        },
    }


def create_api(library: Library, policy: Policy) -> FastAPI:
    """The FastAPI app; the admin routes and the chat page are mounted on it."""
    api = FastAPI(
        title="工会案例问答 API",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    router = APIRouter()

    @router.post("/api/ask")
    async def ask(request: Request) -> Response:
        try:
            ask = parse_ask(await request.body())  # the guard has bounded its size
            kb = policy.knowledge_base(caller_of(request), ask.kb)
        except BadRequest as exc:
            return json_error(400, "bad_request", str(exc))
        except Denied as denied:
            return json_error(denied.status, denied.kind, denied.message)
        started = time.perf_counter()
        try:
            service = await run_in_threadpool(library.service, kb.id)
            # Search and a model call block for a while: off the event loop, so other
            # requests (health checks, the page) are served meanwhile.
            answer = await run_in_threadpool(
                service.answer, ask.question, ask.previous, ask.k, ask.where
            )
        except (IndexNotFound, ManifestMismatch) as exc:
            return json_error(503, "index_unavailable", str(exc))
        except BackendUnavailable as exc:
            return json_error(503, "backend_unavailable", str(exc))
        except EmptyQuestion as exc:
            return json_error(400, "empty_question", str(exc))
        body = {"kb": kb.id, **answer.to_json()}
        if ask.retrieved:
            body["retrieved"] = [
                {"rank": rank, **hit.to_json()}
                for rank, hit in enumerate(answer.retrieved[: ask.retrieved], start=1)
            ]
        body["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(body)

    @router.get("/api/health")
    async def health(request: Request) -> Response:
        """Status of the knowledge bases this caller may read (none: nothing to show)."""
        listed = []
        for kb in policy.readable(caller_of(request)):
            entry = {"id": kb.id, "title": kb.title}
            try:
                manifest = await run_in_threadpool(library.manifest, kb.id)
            except (IndexNotFound, ManifestMismatch, BackendUnavailable) as exc:
                listed.append({**entry, "status": "unavailable", "message": str(exc)})
                continue
            listed.append({**entry, "status": "ok", **manifest.to_json()})
        settings = library.settings
        ok = any(entry["status"] == "ok" for entry in listed)
        body = {
            "status": "ok" if ok else "unavailable",
            "knowledge_bases": listed,
            "model": {"id": settings.model},
            "search": {"mode": settings.mode, "top_k": settings.top_k},
            "llm": bool(library.llm),
            **(await run_in_threadpool(shared_state, library, policy)),
        }
        if listed and ok:
            first = next(e for e in listed if e["status"] == "ok")
            body["index"] = {k: first[k] for k in ("chunks", "files", "cases", "built")}
        if not ok and listed:
            body["message"] = listed[0].get("message", "")
        return JSONResponse(body, status_code=200 if ok or not listed else 503)

    @router.get("/widget.js")
    async def widget() -> Response:
        return Response(
            WIDGET_JS.read_text(encoding="utf-8"),
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    api.include_router(router)
    return api
