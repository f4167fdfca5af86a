"""The ASGI middleware in front of every route: it asks the Policy
(web/policy.py) about each request and enforces the answer.

Order: origin allowlist (403) and CORS preflight -> who is calling -> may they
use this route (401/403, or a redirect to sign-in for a page) -> body size
(413, also for chunked bodies, counted as they arrive) -> rate limit per
caller (429 with Retry-After) -> the route, with CSP frame-ancestors and CORS
headers added, and any uncaught error or plain-text 500 turned into JSON.
"""

from __future__ import annotations

import logging

from web.policy import (
    UNSAFE_METHODS,
    Denied,
    Policy,
    Redirect,
    error_body,
)

log = logging.getLogger(__name__)


class Guard:
    def __init__(self, app, policy: Policy) -> None:
        self.app = app
        self.policy = policy
        ancestors = " ".join(["'self'", *sorted(policy.allowed_origins)])
        self.csp = f"frame-ancestors {ancestors}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":  # no route uses one; nothing gets past unchecked
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        origin = headers.get("origin", "").rstrip("/")
        peer = (scope.get("client") or ("unknown", 0))[0]
        scheme = self.policy.scheme(headers, peer, scope.get("scheme", "http"))
        own = f"{scheme}://{headers.get('host', '')}"
        foreign = origin if origin and origin != own else ""
        if foreign and (not self.policy.origin_allowed(foreign) or path.startswith("/admin")):
            await self._reject(send, Denied(403, "origin_not_allowed", _origin_message(foreign)))
            return
        cors = _cors(foreign) if foreign else []
        if foreign and method == "OPTIONS":
            await self._send(send, 204, b"", cors)
            return
        caller = self.policy.identify(headers, peer, foreign)
        try:
            if foreign and foreign not in self.policy.allowed_origins and caller.kind != "key":
                # Allowed only as a live key's page: then only with that key.
                raise Denied(403, "origin_not_allowed", _origin_message(foreign))
            self.policy.check(caller, method, path, headers)
            limit = self.policy.body_limit(path)
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                raise Denied(413, "too_large", f"请求过大：最多 {limit} 字节。")
            if method in UNSAFE_METHODS:
                wait = self.policy.limiter.retry_after(caller.id)
                if wait:
                    await self._reject(
                        send,
                        Denied(429, "rate_limited", f"请求太频繁，请 {wait} 秒后再试。"),
                        [*cors, (b"retry-after", str(wait).encode())],
                    )
                    return
        except Denied as denied:
            await self._reject(send, denied, cors)
            return
        except Redirect as redirect:
            await self._send(send, 303, b"", [(b"location", redirect.location.encode())])
            return
        scope.setdefault("state", {})["caller"] = caller
        await self._serve(scope, receive, send, cors, limit)

    async def _serve(self, scope, receive, send, cors, limit: int) -> None:
        seen = {"bytes": 0, "too_large": False, "started": False, "replaced": False}

        async def counted_receive():
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > limit:
                    # The route sees a client that went away; the reply becomes a 413.
                    seen["too_large"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message) -> None:
            if message["type"] == "http.response.start":
                seen["started"] = True
                status = message["status"]
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if seen["too_large"]:
                    seen["replaced"] = True
                    await self._reject(
                        send, Denied(413, "too_large", f"请求过大：最多 {limit} 字节。"), cors
                    )
                    return
                if status >= 500 and not content_type.startswith(b"application/json"):
                    seen["replaced"] = True
                    await self._reject(send, _internal(), cors)
                    return
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", self.csp),
                    *cors,
                ]
            elif message["type"] == "http.response.body" and seen["replaced"]:
                return
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not seen["too_large"]:
                log.exception("uncaught error on %s %s", scope["method"], scope["path"])
            if not seen["started"]:
                denied = (
                    Denied(413, "too_large", f"请求过大：最多 {limit} 字节。")
                    if seen["too_large"]
                    else _internal()
                )
                await self._reject(send, denied, cors)

    async def _reject(self, send, denied: Denied, extra=()) -> None:
        await self._send(
            send,
            denied.status,
            error_body(denied.kind, denied.message),
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


def _internal() -> Denied:
    return Denied(500, "internal_error", "服务器内部错误，已记录。请稍后再试，或联系管理员。")


def _origin_message(origin: str) -> str:
    return f"来源 {origin} 未被允许使用本服务，请联系管理员把它加入 GHQA_ALLOWED_ORIGINS 或密钥的来源。"


def _cors(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode()),
        (b"vary", b"Origin"),
        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
        (b"access-control-allow-headers", b"Content-Type, Authorization"),
        (b"access-control-expose-headers", b"Retry-After"),
        (b"access-control-max-age", b"600"),
    ]
