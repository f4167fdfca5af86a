"""A deterministic stand-in for the embedding model.

Used where a test is about bookkeeping (persistence, incremental updates,
interrupted builds) rather than about meaning: it is instant, and it counts
what it was asked to embed. Tests about retrieval quality use the real model.
"""

from __future__ import annotations

import hashlib

import numpy as np

from index.embedder import ModelInfo


class HashingEmbedder:
    """Character bigrams hashed into a small normalised vector."""

    def __init__(self, model_id: str = "fake-hashing-embedder", dim: int = 64) -> None:
        self.info = ModelInfo(model_id, dim, "query: ", "passage: ", "torch")
        self.embedded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.info.dim, dtype=np.float32)
        for i in range(len(text) - 1):
            h = int.from_bytes(hashlib.md5(text[i : i + 2].encode()).digest()[:4], "little")
            vec[h % self.info.dim] += 1.0
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def embed_passages(self, texts):
        self.embedded.extend(texts)
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_chunks(self, texts, sentences):
        """Sentence vectors hash the sentence alone (the real model pools it in context)."""
        vectors = self.embed_passages(texts)
        per_text = [
            np.asarray([self._vector(t[a:b]) for a, b in spans], dtype=np.float32).reshape(
                -1, self.info.dim
            )
            for t, spans in zip(texts, sentences, strict=True)
        ]
        return vectors, per_text

    def embed_query(self, text):
        return self._vector(text)
