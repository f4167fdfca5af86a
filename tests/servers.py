"""Helpers for tests that serve the real site on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from settings import PROJECT_ROOT, SHIPPED_CORPUS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackServer:
    def __init__(self, app) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", proxy_headers=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.time() + 30
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def wait_until_up(
    ready: Callable[[], bool], proc: subprocess.Popen, seconds: float, what: str, log=None
) -> None:
    """Poll `ready` until it is true; if the process exits or time runs out,
    kill it and fail with the end of its log."""
    deadline = time.time() + seconds
    while not ready():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            text = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} did not start within {seconds} s: {text}")
        time.sleep(0.2)


def port_open(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    return ready


def corpus_with(root: Path, name: str, text: str) -> Path:
    """A copy of the shipped corpus in `root` plus one extra file."""
    corpus = root / "corpus"
    shutil.copytree(SHIPPED_CORPUS, corpus)
    (corpus / name).write_text(text, encoding="utf-8")
    return corpus


@contextmanager
def app_process(
    data_dir: Path, model_cache_dir: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`python app.py` as users start it, on a free loopback port, serving
    DATA_DIR (its default knowledge base in DATA_DIR/index), with `env` added
    to its environment; yields its URL once it answers (503 included)."""
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GHQA_DATA_DIR": str(data_dir),
        "GHQA_MODEL_CACHE_DIR": str(model_cache_dir),
        **(env or {}),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"app-{port}.log"  # a pipe nobody reads would fill and block it
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--index-dir", str(data_dir / "index")],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            urllib.request.urlopen(f"{url}/api/health", timeout=2)
        except urllib.error.HTTPError:
            return True  # 503 says a knowledge base cannot answer, which a test may want
        except OSError:
            return False
        return True

    wait_until_up(answers, proc, 180, "app.py", log)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
