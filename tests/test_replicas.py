"""Stateless serving: two `python app.py` replicas with separate, empty data
folders, sharing one Milvus, one PostgreSQL and one Redis, all real servers on
loopback. The Milvus here is Milvus Lite's own gRPC server (`milvus-lite
server`): the same protocol and client as a Milvus standalone, which cannot
be installed without a container runtime.

They answer alike, share one rate limit, keep no index on their own disks,
start and say so while Milvus is down, and answer again when it comes back,
without a restart."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from index.build import update_index
from settings import SHIPPED_CORPUS
from tests.databases import postgres, redis_server
from tests.servers import app_process, free_port

QUESTION = "龙岩的驿站枫桥调解成功了多少件劳动争议？"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


class MilvusServer:
    """`milvus-lite server` on a fixed loopback port, so it can stop and come
    back where the replicas expect it."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / f"milvus-{self.port}.log"
        self._proc: subprocess.Popen | None = None

    def start(self) -> MilvusServer:
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "milvus_lite.cmdline", "server", "--data-dir",
                 str(self.data), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self._proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"milvus-lite did not start: {self.log.read_text()}"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=30)


def ask(url: str) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=120)


def page_status(url: str) -> str:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#question textarea", timeout=60_000)
        page.wait_for_timeout(1500)  # the load event fills the status line
        status = page.locator("#status")
        text = status.inner_text() if status.count() and status.is_visible() else ""
        browser.close()
    return text


@pytest.mark.slow
def test_replicas_share_milvus_database_and_rate_limit(real_settings, real_embedder, tmp_path):
    milvus = MilvusServer(tmp_path / "milvus").start()
    with ExitStack() as stack:
        stack.callback(milvus.stop)
        database = stack.enter_context(postgres())
        limits = stack.enter_context(redis_server())
        builder = real_settings.model_copy(
            update={"backend": "milvus", "milvus_uri": milvus.url, "data_dir": tmp_path / "builder"}
        )
        update_index(builder, [SHIPPED_CORPUS], embedder=real_embedder, progress=False)
        env = {
            "GHQA_BACKEND": "milvus",
            "GHQA_MILVUS_URI": milvus.url,
            "GHQA_DATABASE_URL": database,
            "GHQA_REDIS_URL": limits,
            "GHQA_RATE_LIMIT_PER_MINUTE": "30",
        }
        model_cache = real_settings.resolved_model_cache_dir()
        replicas = [tmp_path / "a" / "data", tmp_path / "b" / "data"]
        a, b = (stack.enter_context(app_process(d, model_cache, env)) for d in replicas)

        first, second = ask(a), ask(b)
        assert first.status_code == second.status_code == 200, first.text
        assert first.json()["answer"] == second.json()["answer"]
        assert first.json()["citations"] == second.json()["citations"]
        assert first.json()["citations"][0]["organisation"] == "福建龙岩市总工会"
        health = httpx.get(f"{b}/api/health").json()
        assert health["backend"] == {"kind": "milvus", "reachable": True}
        assert health["database"] == {"kind": "postgresql", "reachable": True}
        assert health["rate_limit"] == {"kind": "redis", "reachable": True}
        assert health["knowledge_bases"][0]["chunks"] == 36
        for data in replicas:  # nothing of the index on the replicas' own disks
            assert not (data / "milvus.db").exists()
            assert not (data / "index" / "current").exists()

        # Milvus goes away: the replicas keep serving, and say why they cannot answer.
        milvus.stop()
        down = ask(a)
        assert down.status_code == 503 and down.json()["error"]["type"] == "backend_unavailable"
        assert "Milvus" in down.json()["error"]["message"]
        health = httpx.get(f"{a}/api/health")
        assert health.status_code == 503
        assert health.json()["backend"] == {"kind": "milvus", "reachable": False}
        assert "无法连接 Milvus" in page_status(a)

        # It comes back: both answer again, no restart (the client reconnects
        # with a back-off of a few seconds).
        milvus.start()
        deadline = time.time() + 60
        while httpx.get(f"{a}/api/health").status_code != 200 and time.time() < deadline:
            time.sleep(1)
        again = ask(a)
        assert again.status_code == 200, again.text
        assert again.json()["answer"] == ask(b).json()["answer"] == first.json()["answer"]
        assert page_status(b) == ""

        # One rate limit for the caller across both replicas (30 a minute): with
        # a limit per process, 12 more questions to each would all pass.
        statuses = [ask(url).status_code for _ in range(12) for url in (a, b)]
        limited = statuses.index(429)
        assert set(statuses[:limited]) == {200} and set(statuses[limited:]) == {429}
