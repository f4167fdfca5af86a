"""Checkpoints of embeddings computed by a build that has not finished yet.

Each embedded batch is written at once, atomically, as one `.npz` file (plain
arrays, no pickle) under INDEX_DIR/checkpoints/<key>/, where the key names the
model, its runtime and prompts and the sentence splitter: vectors computed
under other settings are never mixed in. A build killed at any point leaves
every finished batch on disk; the next build loads them and embeds only the
rest, so at most the batch in flight is computed twice. Once a build is
written, its own files hold every vector, and the checkpoints are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Embedded:
    """A chunk's vector and its sentences' vectors."""

    vector: np.ndarray  # float32 [dim]
    sentences: np.ndarray  # float16 or float32 [sentences, dim]


# A passage whose vectors the backend already holds (Milvus keeps unchanged
# passages in place): nothing to read back, nothing to write again.
STORED = Embedded(np.zeros(0, np.float32), np.zeros((0, 0), np.float16))


class VectorCache:
    def __init__(self, index_dir: Path, identity: dict) -> None:
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        self.root = index_dir / "checkpoints"
        self.dir = self.root / key
        self._written = 0

    def load(self) -> dict[str, Embedded]:
        """Every checkpointed chunk by id; an unreadable part is skipped (it is
        only a lost batch, embedded again)."""
        found: dict[str, Embedded] = {}
        for path in sorted(self.dir.glob("part-*.npz")):
            try:
                with np.load(path, allow_pickle=False) as part:
                    ids, vectors = part["ids"], part["vectors"]
                    starts, sentences = part["starts"], part["sentences"]
            except (OSError, ValueError, KeyError):
                continue
            for i, chunk_id in enumerate(ids):
                found[str(chunk_id)] = Embedded(vectors[i], sentences[starts[i] : starts[i + 1]])
        return found

    def append(self, ids: list[str], vectors: np.ndarray, sentences: list[np.ndarray]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        starts = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
        dim = vectors.shape[1]
        stacked = np.concatenate([s.reshape(-1, dim) for s in sentences]).astype(np.float16)
        target = self.dir / f"part-{os.getpid()}-{self._written:07d}.npz"
        self._written += 1
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, ids=np.asarray(ids), vectors=vectors, starts=starts, sentences=stacked)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def clear(self) -> None:
        """Drop every checkpoint (of any key): the written build holds the vectors."""
        shutil.rmtree(self.root, ignore_errors=True)
