"""The HTTP API contract and who may use it, against a real server on loopback.

The embedding model is the hashing stand-in (tests/fakes.py): these tests are
about status codes, headers and fields, not about ranking.
"""

import threading
import time

import httpx
import pytest

from app import create_server
from index.build import update_index
from kb.library import Library
from kb.registry import Registry
from settings import SHIPPED_CORPUS, Settings
from tests.fakes import HashingEmbedder
from tests.llm_server import FakeChatService, answering_through
from tests.servers import LoopbackServer

ALLOWED = "http://intranet.example:8080"
QUESTION = {"question": "北京的双沟通一共开了多少场职工沟通会？"}


EMBEDDER = HashingEmbedder()


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("api"), model="fake-hashing-embedder", answer_threshold=0.0
    )
    update_index(settings, [SHIPPED_CORPUS], embedder=EMBEDDER, progress=False)
    return settings


def serve(settings: Settings, **overrides) -> LoopbackServer:
    """The whole site on loopback (the shipped corpus as the default knowledge
    base); `.library` is the Library it serves."""
    changed = settings.model_copy(update={"allowed_origins": [ALLOWED], **overrides})
    library = Library(Registry(changed), embedder=EMBEDDER)
    server = LoopbackServer(create_server(library))
    server.library = library
    return server


@pytest.fixture(scope="module")
def server(settings):
    with serve(settings, rate_limit_per_minute=1000) as running:
        yield running


def test_ask_contract(server):
    response = httpx.post(f"{server.url}/api/ask", json={**QUESTION, "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert {"answer", "short_answer", "refused", "citations", "latency_ms"} <= set(body)
    assert isinstance(body["short_answer"], str)
    assert isinstance(body["answer"], str) and body["refused"] is False
    assert isinstance(body["latency_ms"], float) and body["latency_ms"] > 0
    assert "37885" in body["answer"]
    citation = body["citations"][0]
    assert {"n", "text", "organisation", "title", "document", "score"} <= set(citation)
    assert citation["n"] == 1 and citation["organisation"] == "北京市总工会"
    assert isinstance(citation["score"], float)


def test_where_limits_the_answer_to_one_organisation(server):
    question = {"question": "职工沟通会开了多少场？", "retrieved": 10}
    anywhere = httpx.post(f"{server.url}/api/ask", json=question).json()
    assert len({p["organisation"] for p in anywhere["retrieved"]}) > 1
    only = {"organisation": "福建龙岩市总工会"}
    limited = httpx.post(f"{server.url}/api/ask", json={**question, "where": only}).json()
    assert {p["organisation"] for p in limited["retrieved"]} == {"福建龙岩市总工会"}
    assert {c["organisation"] for c in limited["citations"]} <= {"福建龙岩市总工会"}


def test_history_makes_a_followup(server):
    body = httpx.post(
        f"{server.url}/api/ask",
        json={
            "question": "那江苏呢？",
            "history": [
                {"role": "user", "content": QUESTION["question"]},
                {"role": "assistant", "content": "……"},
            ],
        },
    ).json()
    assert body["question"] == "江苏的双沟通一共开了多少场职工沟通会？"


def test_health(server):
    response = httpx.get(f"{server.url}/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["index"]["cases"] == 15
    assert body["model"] == {"id": "fake-hashing-embedder"}
    assert [kb["id"] for kb in body["knowledge_bases"]] == ["default"]
    assert body["knowledge_bases"][0]["cases"] == 15
    assert body["database"] == {"kind": "sqlite", "reachable": True}
    assert body["rate_limit"] == {"kind": "memory", "reachable": True}


@pytest.mark.parametrize(
    ("payload", "kind", "message"),
    [
        (b"not json", "bad_request", "请求体必须是 UTF-8 编码的 JSON 对象。"),
        (b'{"q": 1}', "bad_request", "缺少字段 question（字符串）。"),
        (b'{"question": "x", "k": 0}', "bad_request", "k 必须是 1 到 10 之间的整数。"),
        (
            b'{"question": "x", "history": "x"}',
            "bad_request",
            "history 必须是数组：之前的问题（字符串）或 {role, content} 消息。",
        ),
        (
            b'{"question": "x", "where": {"kb": "x"}}',
            "bad_request",
            "where 不能按 kb 筛选；可用字段：organisation、title、document、source。",
        ),
        (
            b'{"question": "x", "where": {"organisation": 1}}',
            "bad_request",
            "where.organisation 必须是 1 到 200 个字的字符串。",
        ),
        (
            b'{"question": "x", "where": []}',
            "bad_request",
            'where 必须是对象，例如 {"organisation": "…"}；可用字段：organisation、title、document、source。',
        ),
        (
            b'{"question": "   "}',
            "empty_question",
            "问题为空：请输入要查询的问题，例如：这项工作取得了哪些成效？",
        ),
    ],
)
def test_bad_requests_get_json_errors(server, payload, kind, message):
    response = httpx.post(
        f"{server.url}/api/ask", content=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": {"type": kind, "message": message}}


def test_request_size_limit(server):
    response = httpx.post(f"{server.url}/api/ask", json={"question": "问" * 20000})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "too_large"
    # A chunked body has no Content-Length: the route checks what it read.
    body = ('{"question": "' + "问" * 20000 + '"}').encode()
    chunked = httpx.post(f"{server.url}/api/ask", content=iter([body[:1000], body[1000:]]))
    assert chunked.status_code == 413


def test_origin_allowlist(server):
    allowed = httpx.post(f"{server.url}/api/ask", json=QUESTION, headers={"Origin": ALLOWED})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    denied = httpx.post(
        f"{server.url}/api/ask", json=QUESTION, headers={"Origin": "http://evil.example"}
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["type"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in denied.headers and "37885" not in denied.text
    same = httpx.post(f"{server.url}/api/ask", json=QUESTION, headers={"Origin": server.url})
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    preflight = httpx.options(
        f"{server.url}/api/ask",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert "Content-Type" in preflight.headers["access-control-allow-headers"]
    assert (
        httpx.options(
            f"{server.url}/api/ask", headers={"Origin": "http://evil.example"}
        ).status_code
        == 403
    )


def test_chat_page_may_only_be_framed_by_allowed_sites(server):
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == f"frame-ancestors 'self' {ALLOWED}"


def test_widget_script_is_served(server):
    response = httpx.get(f"{server.url}/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "attachShadow" in response.text and "http" not in response.text.split("*/", 1)[1]


def test_bearer_token(settings):
    with serve(settings, api_token="s3cret") as running:
        missing = httpx.post(f"{running.url}/api/ask", json=QUESTION)
        wrong = httpx.post(
            f"{running.url}/api/ask", json=QUESTION, headers={"Authorization": "Bearer nope"}
        )
        right = httpx.post(
            f"{running.url}/api/ask", json=QUESTION, headers={"Authorization": "Bearer s3cret"}
        )
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"]["type"] == "unauthorized"
    assert right.status_code == 200


def test_rate_limit(settings):
    with serve(settings, rate_limit_per_minute=3) as running:
        codes = [httpx.post(f"{running.url}/api/ask", json=QUESTION).status_code for _ in range(4)]
        limited = httpx.post(f"{running.url}/api/ask", json=QUESTION)
    assert codes == [200, 200, 200, 429]
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"]["type"] == "rate_limited"


def test_a_slow_answer_does_not_hold_up_other_requests(settings):
    # The stand-in chat service (a paid one in production) takes 2 s to reply.
    with FakeChatService() as chat, serve(settings, rate_limit_per_minute=1000) as running:
        chat.delay = 2.0
        service = running.library.service("default")
        with answering_through(service, chat.url, timeout=10):
            slow = {}
            asking = threading.Thread(
                target=lambda: slow.update(
                    r=httpx.post(f"{running.url}/api/ask", json=QUESTION, timeout=10)
                )
            )
            asking.start()
            while not chat.requests:
                time.sleep(0.02)
            started = time.perf_counter()
            health = httpx.get(f"{running.url}/api/health", timeout=10)
            waited = time.perf_counter() - started
            asking.join()
    assert health.status_code == 200 and waited < 1.0
    assert slow["r"].status_code == 200 and slow["r"].json()["answer"] == "回答[1]。"


def test_no_index_gives_503(tmp_path):
    empty = Settings(data_dir=tmp_path / "data", model="fake-hashing-embedder")
    with serve(empty) as running:
        ask = httpx.post(f"{running.url}/api/ask", json=QUESTION)
        health = httpx.get(f"{running.url}/api/health")
        page = httpx.get(f"{running.url}/")
    assert ask.status_code == health.status_code == 503
    index_dir = empty.resolved_index_dir()
    message = f"{index_dir} 中还没有索引。请先建索引：python -m ingest --index-dir {index_dir}"
    assert ask.json() == {"error": {"type": "index_unavailable", "message": message}}
    assert health.json()["message"] == message
    assert page.status_code == 200


def test_the_page_queue_is_behind_the_same_token_and_rate_limit(settings):
    """The issue's finding: with a token set, the chat page's own API answered
    curl without it, and without a rate limit."""
    call = {"data": [QUESTION["question"], [], "default"]}
    with serve(settings, api_token="s3cret", rate_limit_per_minute=30) as running:
        url = f"{running.url}/gradio_api/call/respond"
        missing = httpx.post(url, json=call)
        queue = httpx.post(f"{running.url}/gradio_api/queue/join", json={})
        codes = [
            httpx.post(url, json=call, headers={"Authorization": "Bearer s3cret"}).status_code
            for _ in range(40)
        ]
    assert missing.status_code == queue.status_code == 401
    assert codes[:29] == [200] * 29 and set(codes[30:]) == {429}


def test_the_widget_names_its_knowledge_base(server):
    script = httpx.get(f"{server.url}/widget.js").text
    assert 'getAttribute("data-kb")' in script and "kb: kb" in script
    unknown = httpx.post(f"{server.url}/api/ask", json={**QUESTION, "kb": "no-such-kb"})
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "kb_not_found"
    chosen = httpx.post(f"{server.url}/api/ask", json={**QUESTION, "kb": "default"})
    assert chosen.status_code == 200 and chosen.json()["kb"] == "default"
