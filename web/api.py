"""The HTTP API and the widget script, served by the same process as the page.

    POST /api/ask     {"question", "history"?, "k"?, "retrieved"?} -> answer with citations
                      (and, with "retrieved": n, the n best-ranked passages)
    GET  /api/health  index and model status (503 when no index is loaded)
    GET  /widget.js   the embeddable chat widget

Errors are JSON {"error": {"type", "message"}} with the matching status.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from answer.service import AnswerService
from errors import EmptyQuestion
from settings import Settings
from web.guard import error_json

WIDGET_JS = Path(__file__).resolve().parent / "static" / "widget.js"
MAX_K = 10
MAX_RETRIEVED = 20


class BadRequest(Exception):
    """400: the message says what is wrong with the request."""


class TooLarge(Exception):
    """413: the body is over the configured size."""


def json_error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(error_json(kind, message), status_code=status)


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, but never more than `limit` bytes of it in memory: a chunked
    upload has no Content-Length for the guard to check in advance."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


@dataclass(frozen=True)
class AskRequest:
    question: str
    previous: list[str]
    k: int | None
    retrieved: int  # how many ranked passages to return besides the answer (evaluation)


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
    retrieved = data.get("retrieved", 0)
    if not _int_between(retrieved, 0, MAX_RETRIEVED):
        raise BadRequest(f"retrieved 必须是 0 到 {MAX_RETRIEVED} 之间的整数。")
    return AskRequest(data["question"], [p for p in previous if isinstance(p, str)], k, retrieved)


def _int_between(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def create_api(settings: Settings, service: AnswerService | None, problem: str = "") -> FastAPI:
    """The FastAPI app with the guard in front; the chat page is mounted on it."""
    api = FastAPI(
        title="工会案例问答 API",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    router = APIRouter()

    @router.post("/api/ask")
    async def ask(request: Request) -> Response:
        if service is None:
            return json_error(503, "index_unavailable", problem or "索引未加载。")
        try:
            ask = parse_ask(await read_limited(request, settings.max_request_bytes))
        except TooLarge:
            size = settings.max_request_bytes
            return json_error(413, "too_large", f"请求过大：最多 {size} 字节。")
        except BadRequest as exc:
            return json_error(400, "bad_request", str(exc))
        started = time.perf_counter()
        try:
            # Search and a model call block for a while: off the event loop, so other
            # requests (health checks, the page) are served meanwhile.
            answer = await run_in_threadpool(service.answer, ask.question, ask.previous, ask.k)
        except EmptyQuestion as exc:
            return json_error(400, "empty_question", str(exc))
        body = answer.to_json()
        if ask.retrieved:
            body["retrieved"] = [
                {"rank": rank, **hit.to_json()}
                for rank, hit in enumerate(answer.retrieved[: ask.retrieved], start=1)
            ]
        body["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(body)

    @router.get("/api/health")
    async def health() -> Response:
        if service is None:
            return JSONResponse({"status": "unavailable", "message": problem}, status_code=503)
        manifest = service.searcher.index.manifest
        return JSONResponse(
            {
                "status": "ok",
                "index": {
                    "chunks": manifest["counts"]["chunks"],
                    "files": manifest["counts"]["files"],
                    "cases": manifest["counts"]["cases"],
                    "built": manifest["created"],
                },
                "model": {"id": manifest["model"]["id"], "dim": manifest["model"]["dim"]},
                "search": {"mode": service.settings.mode, "top_k": service.settings.top_k},
                "llm": bool(service.llm),
            }
        )

    @router.get("/widget.js")
    async def widget() -> Response:
        return Response(
            WIDGET_JS.read_text(encoding="utf-8"),
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    api.include_router(router)
    return api
