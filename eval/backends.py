"""Where the questions go: the app's own AnswerService in this process, or the
HTTP API of a running server (`--url`). Both hand back the same Observation."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import httpx

from answer.service import AnswerService
from errors import EmptyQuestion, GhqaError

# Ranked passages kept per question: enough for @10 metrics and an nDCG pool.
DEPTH = 20
_MAX_RATE_LIMIT_WAITS = 20


class ServerUnavailable(GhqaError):
    """The server given with --url cannot be used for evaluation."""


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    text: str
    organisation: str
    title: str


@dataclass(frozen=True)
class Observation:
    """What the assistant did with one question."""

    retrieved: tuple[Passage, ...]  # ranked, best first
    answer: str
    refused: bool
    cited: tuple[Passage, ...]
    latency_ms: float
    short_answer: str = ""


@dataclass(frozen=True)
class BackendInfo:
    mode: str
    k: int
    model: str
    target: str  # the index directory or the server URL


class LocalBackend:
    """The same AnswerService the chat page and the API use."""

    def __init__(self, service: AnswerService, k: int) -> None:
        self.service = service
        self.k = k
        self.info = BackendInfo(
            service.settings.mode,
            k,
            service.searcher.collection.manifest.model_id,
            str(service.settings.resolved_index_dir()),
        )

    def ask(self, question: str) -> Observation:
        started = time.perf_counter()
        try:
            answer = self.service.answer(question, k=self.k)
        except EmptyQuestion:  # nothing left after cleaning: the app prompts, never answers
            return Observation((), "", True, (), (time.perf_counter() - started) * 1000)
        latency = (time.perf_counter() - started) * 1000
        return Observation(
            retrieved=tuple(_passage_of_hit(h) for h in answer.retrieved[:DEPTH]),
            answer=answer.text,
            refused=answer.refused,
            cited=tuple(_passage_of_hit(c.hit) for c in answer.citations),
            latency_ms=latency,
            short_answer=answer.short_answer,
        )


class HttpBackend:
    """POST /api/ask on a running server; latency is the full round trip."""

    def __init__(self, url: str, k: int, token: str | None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.k = k
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        health = self._get_json("/api/health")
        model = (health.get("model") or {}).get("id")
        if not model:
            raise ServerUnavailable(
                f"{self.url} 不像工会案例问答服务（/api/health 没有模型信息）。"
            )
        search = health.get("search") or {}
        self.info = BackendInfo(search.get("mode", "?"), k, model, self.url)

    def ask(self, question: str) -> Observation:
        body = {"question": question, "k": self.k, "retrieved": DEPTH}
        for _ in range(_MAX_RATE_LIMIT_WAITS):
            started = time.perf_counter()
            response = self._request("POST", "/api/ask", json=body)
            latency = (time.perf_counter() - started) * 1000
            if response.status_code != 429:
                break
            wait = float(response.headers.get("Retry-After", "1"))
            print(f"服务端限流（429），等待 {wait:.0f} 秒后重试……", file=sys.stderr)
            time.sleep(wait)
        data = self._json_of(response, "/api/ask")
        if not {"answer", "refused", "citations", "retrieved"} <= set(data):
            raise ServerUnavailable(
                f"{self.url} 不返回检索排序（retrieved）：请把服务升级到当前版本。"
            )
        return Observation(
            retrieved=tuple(_passage_of_json(p) for p in data.get("retrieved", [])),
            answer=data["answer"],
            refused=data["refused"],
            cited=tuple(_passage_of_json(c) for c in data["citations"]),
            latency_ms=latency,
            short_answer=data.get("short_answer") or "",
        )

    def _get_json(self, path: str) -> dict:
        return self._json_of(self._request("GET", path), path)

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerUnavailable(
                f"无法连接 {self.url}（{type(exc).__name__}）：请确认服务已启动、地址和端口正确。"
            ) from None

    def _json_of(self, response: httpx.Response, path: str) -> dict:
        if response.status_code == 401:
            raise ServerUnavailable(f"{self.url} 需要令牌：请用 --token 或 GHQA_API_TOKEN 给出。")
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, dict):
            message = (data or {}).get("error", {}).get("message", "") if data else ""
            raise ServerUnavailable(
                f"{self.url}{path} 返回 HTTP {response.status_code}"
                f"{'：' + message if message else ''}：请确认这是工会案例问答服务且索引已建立。"
            )
        return data


def _passage_of_hit(hit) -> Passage:
    c = hit.chunk
    return Passage(c.id, c.text, c.organisation, c.title)


def _passage_of_json(data: dict) -> Passage:
    return Passage(data["chunk_id"], data["text"], data["organisation"], data["title"])
