"""An ingest interrupted at any point resumes where it stopped: real processes,
the real default model, SIGINT (Ctrl-C) and SIGKILL."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index.build import shifted_spans
from index.store import load_index
from settings import PROJECT_ROOT
from tests.conftest import CORPUS_FILE

BATCH = 4
pytestmark = pytest.mark.slow


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The shipped article cut into 12 files: enough for the worker processes."""
    lines = CORPUS_FILE.read_text(encoding="utf-8").splitlines()
    folder = tmp_path / "corpus"
    folder.mkdir()
    size = len(lines) // 12 + 1
    for i in range(12):
        part = "\n".join(lines[i * size : (i + 1) * size])
        (folder / f"part{i:02d}.txt").write_text(part, encoding="utf-8")
    return folder


def _start(corpus: Path, index_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GHQA_MODEL_CACHE_DIR": str(PROJECT_ROOT / "data" / "models"),
        "GHQA_EMBED_BATCH_SIZE": str(BATCH),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", str(corpus), "--index-dir", str(index_dir), "--quiet"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background jobs ignore SIGINT, and children inherit that:
        # give the ingest the default handling a terminal's Ctrl-C meets.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _parts(index_dir: Path) -> int:
    return len(list((index_dir / "checkpoints").glob("*/part-*.npz")))


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in found.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (
        Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "X"
    )
    return state != "Z"


def _interrupt_after(corpus: Path, index_dir: Path, parts: int, sig: int) -> tuple[int, str]:
    """Run an ingest, send `sig` once `parts` batches are checkpointed; the
    number of checkpointed batches then, and stderr. Its worker processes
    (file readers) must be gone within seconds, whatever the signal."""
    process = _start(corpus, index_dir)
    deadline = time.monotonic() + 300
    while _parts(index_dir) < parts:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    workers = _children(process.pid)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode in (130, -signal.SIGKILL), err
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)
    return _parts(index_dir), err


def test_killed_ingest_resumes_without_embedding_twice(corpus, tmp_path, real_embedder):
    index_dir = tmp_path / "index"

    saved, err = _interrupt_after(corpus, index_dir, 2, signal.SIGINT)
    assert "Traceback" not in err
    assert "重新运行同一命令即可从中断处继续" in err and "-m ingest" in err
    assert not (index_dir / "current").exists()  # nothing half-written is served

    saved, _ = _interrupt_after(corpus, index_dir, saved + 2, signal.SIGKILL)

    finish = _start(corpus, index_dir)
    out, err = finish.communicate(timeout=600)
    assert finish.returncode == 0, err
    embedded, resumed = (
        int(re.search(r"新嵌入 (\d+)", out)[1]),
        int(re.search(r"从中断处接续 (\d+)", out)[1]),
    )
    total = int(re.search(r"段落 (\d+) 个", out)[1])
    # Every checkpointed batch was reused: only the batch in flight at each
    # interruption was computed twice (the last part may hold a short batch).
    assert resumed > (saved - 1) * BATCH
    assert embedded + resumed == total
    assert _parts(index_dir) == 0  # the build holds the vectors now

    # The resumed vectors are the ones an uninterrupted build computes (int8
    # activations are scaled per batch, so batchmates move them slightly).
    index = load_index(index_dir)
    for row in (0, len(index.chunks) // 2, len(index.chunks) - 1):
        chunk = index.chunks[row]
        vectors, sentences = real_embedder.embed_chunks([chunk.index_text], [shifted_spans(chunk)])
        assert float(index.vectors[row] @ vectors[0]) > 0.99
        cosines = np.sum(index.sentences_of(row) * sentences[0], axis=1)
        assert len(cosines) == len(shifted_spans(chunk)) and cosines.min() > 0.98
