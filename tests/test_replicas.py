"""Stateless serving: two `python app.py` replicas with separate, empty data
folders, sharing one Milvus, one PostgreSQL and one Redis, all real servers on
loopback. The Milvus here is Milvus Lite's own gRPC server (`milvus-lite
server`): the same protocol and client as a Milvus standalone, which cannot
be installed without a container runtime.

They answer alike, share one rate limit, keep no index on their own disks,
start and say so while Milvus is down, and answer again when it comes back,
without a restart; nginx with deploy/nginx.conf balances them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from index.build import update_index
from settings import PROJECT_ROOT, SHIPPED_CORPUS
from tests.databases import postgres, redis_server
from tests.servers import app_process, free_port, port_open, wait_until_up

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
        wait_until_up(port_open(self.port), self._proc, 60, "milvus-lite server", self.log)
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=30)


def ask(url: str, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json={"question": QUESTION}, headers=headers, timeout=120)


def page_status(url: str) -> str:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#question textarea", timeout=60_000)
        # The load event fills the sign-in line and the status line together.
        page.wait_for_function(
            "document.querySelector('#who')?.innerText.includes('登录')", timeout=60_000
        )
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
            "GHQA_TRUSTED_PROXIES": "127.0.0.1",  # nginx, below
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

        # Through nginx with deploy/nginx.conf: one rate limit per person across
        # both replicas (31st question in the minute refused; with a limit per
        # process 60 would pass), people told apart by X-Forwarded-For.
        front = stack.enter_context(nginx_in_front(tmp_path / "nginx", [a, b]))
        alice, bob = {"X-Forwarded-For": "192.0.2.1"}, {"X-Forwarded-For": "192.0.2.2"}
        statuses = [ask(front, alice).status_code for _ in range(35)]
        assert statuses[:30] == [200] * 30 and set(statuses[30:]) == {429}
        assert ask(front, bob).status_code == 200
        assert httpx.get(f"{front}/").status_code == 200  # the page, through the proxy


@contextmanager
def nginx_in_front(root: Path, replicas: list[str]):
    """Debian's nginx running deploy/nginx.conf, its upstreams pointed at the
    replicas on loopback instead of the compose services app1 and app2."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root.mkdir()
    port = free_port()
    site = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    for name, url in zip(("app1:7860", "app2:7860"), replicas, strict=True):
        site = site.replace(name, url.removeprefix("http://"))
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (root / "site.conf").write_text(site, encoding="utf-8")
    temp = {
        "client_body_temp_path": root / "body",
        "proxy_temp_path": root / "proxy",
        "fastcgi_temp_path": root / "fastcgi",
        "uwsgi_temp_path": root / "uwsgi",
        "scgi_temp_path": root / "scgi",
    }
    paths = "".join(f"    {k} {v};\n" for k, v in temp.items())
    (root / "nginx.conf").write_text(
        f"daemon off;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
        f"events {{}}\nhttp {{\n    access_log off;\n{paths}    include {root}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [nginx, "-c", str(root / "nginx.conf"), "-p", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_up(port_open(port), proc, 20, "nginx", root / "error.log")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
