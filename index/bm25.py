"""Lexical retrieval: jieba tokens scored with BM25 (bm25s), built once at
ingest time and saved as plain .npy/.json files, never rebuilt per query."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import bm25s
import jieba
import numpy as np

# Function words and question words carry no evidence about which passage
# answers; left in, "多少" or "哪些" would pull in any passage with a number.
_STOPWORDS_TEXT = """
的 了 是 在 和 与 及 或 等 有 对 为 以 于 把 被 将 从 由 这 那 其 之 也 都 就 并 而 个 中 上 下
吗 呢 吧 啊 呀 么 么样 什么 多少 哪些 哪个 哪里 哪 如何 怎么 怎样 怎么样 是否 几 几个 一共 共 总共
请问 请 一下 the a an of to in and or is are was what how which who many much
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
TOKENIZER_ID = f"jieba-{jieba.__version__}:cut_for_search:lower:stopwords-v1"
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")


def tokenize(text: str) -> list[str]:
    """Search-mode jieba cut: long words also yield their parts (驿站枫桥 ->
    驿站, 枫桥, 驿站枫桥), so a question matches either form."""
    jieba.setLogLevel(logging.WARNING)
    tokens = jieba.lcut_for_search(text.lower())
    return [t for t in tokens if _WORDLIKE.search(t) and t.strip() and t not in STOPWORDS]


class Bm25Index:
    def __init__(self, retriever: bm25s.BM25) -> None:
        self._retriever = retriever

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float) -> Bm25Index:
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index([tokenize(t) for t in texts], show_progress=False)
        return cls(retriever)

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        return cls(bm25s.BM25.load(str(directory), allow_pickle=False))

    def top(self, question: str, n: int) -> list[tuple[int, float]]:
        """(row, score) of the best `n` passages that share a term with the question."""
        ids = self._retriever.get_tokens_ids(tokenize(question))
        if not ids:
            return []
        scores = self._retriever.get_scores(ids)
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best if scores[i] > 0]
