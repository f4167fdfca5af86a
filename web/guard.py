"""Who may use the server, enforced before any route runs (an ASGI middleware).

* Origin: a request that carries an Origin header must come from the app's own
  origin or one in `allowed_origins`; any other gets 403 and no answer, so a
  disallowed site learns nothing even from a browser that ignores CORS.
  Allowed cross-origin requests get CORS headers (and preflights a 204).
* Framing: every response says `Content-Security-Policy: frame-ancestors` with
  the same list, so only those sites can put the chat page in an iframe.
* /api/ only: bearer token (when configured), request size limit, and a
  per-client rate limit that answers 429 with Retry-After.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque

from settings import Settings

API_PREFIX = "/api/"


def error_json(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def error_body(kind: str, message: str) -> bytes:
    return json.dumps(error_json(kind, message), ensure_ascii=False).encode()


class RateLimiter:
    """At most `limit` requests per client in any 60-second window."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 when the request may go ahead (and is counted), else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return 0


class Guard:
    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.allowed = {o.rstrip("/") for o in settings.allowed_origins}
        self.token = settings.api_token
        self.max_bytes = settings.max_request_bytes
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        ancestors = " ".join(["'self'", *sorted(self.allowed)])
        self.csp = f"frame-ancestors {ancestors}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin", "").rstrip("/")
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        cross = bool(origin) and origin != own
        if cross and origin not in self.allowed:
            await self._reject(
                send,
                403,
                "origin_not_allowed",
                f"来源 {origin} 未被允许使用本服务，请联系管理员把它加入 GHQA_ALLOWED_ORIGINS。",
            )
            return
        cors = self._cors(origin) if cross else []
        if cross and scope["method"] == "OPTIONS":
            await self._send(send, 204, b"", cors)
            return
        if scope["path"].startswith(API_PREFIX) and scope["path"] != "/api/health":
            problem = self._api_problem(scope, headers)
            if problem:
                status, kind, message, extra = problem
                await self._reject(send, status, kind, message, cors + extra)
                return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", self.csp),
                    *cors,
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _api_problem(self, scope, headers: dict) -> tuple | None:
        if self.token and headers.get("authorization", "") != f"Bearer {self.token}":
            return 401, "unauthorized", "缺少或错误的访问令牌（Authorization: Bearer …）。", []
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            return 413, "too_large", f"请求过大：最多 {self.max_bytes} 字节。", []
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.limiter.retry_after(client)
        if wait:
            return (
                429,
                "rate_limited",
                f"提问太频繁，请 {wait} 秒后再试。",
                [(b"retry-after", str(wait).encode())],
            )
        return None

    def _cors(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin.encode()),
            (b"vary", b"Origin"),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"Content-Type, Authorization"),
            (b"access-control-expose-headers", b"Retry-After"),
            (b"access-control-max-age", b"600"),
        ]

    async def _reject(self, send, status: int, kind: str, message: str, extra=()) -> None:
        await self._send(
            send,
            status,
            error_body(kind, message),
            [(b"content-type", b"application/json; charset=utf-8"), *extra],
        )

    async def _send(self, send, status: int, body: bytes, headers) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-security-policy", self.csp),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
