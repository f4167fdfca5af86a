"""The default answer: sentences taken word for word from the passages.

Every sentence of the retrieved passages is scored against the question by
meaning (cosine of embeddings), by the rare question words it contains, by
whether it holds a number when the question asks for one, and by its passage's
rank. The best one or two are joined, each followed by the [n] of its passage.
Nothing else is written, so nothing in the answer comes from outside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from answer.records import Citation
from index.searcher import Hit

_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*[”’」』）)]*")
_ASKS_QUANTITY = re.compile(r"多少|几|数量|规模|比例|多久|how many|how much|number", re.I)
_HAS_QUANTITY = re.compile(r"\d|[一二三四五六七八九十百千万亿]+[个名家项次场件支人%]")
_CACHE_LIMIT = 50_000
SECOND_SENTENCE_RATIO = 0.85  # a second sentence must score this close to the best
# ... and closer still when it comes from another passage: a second citation should
# add a fact, not a neighbour's generalities (fitted on eval/sets/dev.jsonl: citation
# accuracy 0.81 -> 0.86 at the same keyword recall).
OTHER_PASSAGE_RATIO = 0.9


@dataclass(frozen=True)
class _Candidate:
    sentence: str
    hit_index: int
    position: int


def split_sentences(text: str) -> list[str]:
    return [m.group().strip() for m in _SENTENCE.finditer(text) if len(m.group().strip()) >= 4]


def _candidates(hits: list[Hit]) -> list[_Candidate]:
    return [
        _Candidate(sentence, i, pos)
        for i, hit in enumerate(hits)
        for pos, sentence in enumerate(split_sentences(hit.chunk.text))
    ]


class Extractor:
    def __init__(self, embedder, term_weights, max_sentences: int = 2) -> None:
        self._embedder = embedder
        self._term_weights = term_weights  # question -> {term: idf}
        self._max_sentences = max_sentences
        self._cache: dict[str, np.ndarray] = {}

    def answer(
        self, question: str, hits: list[Hit], query_vector: np.ndarray | None = None
    ) -> tuple[str, tuple[Citation, ...]]:
        candidates = _candidates(hits)
        if not candidates:
            return "", ()
        if query_vector is None:
            query_vector = self._embedder.embed_query(question)
        scores = self._score(question, query_vector, candidates)
        order = np.argsort(-scores, kind="stable")
        best = scores[order[0]]
        chosen = [candidates[order[0]]]
        for i in order[1:]:
            if len(chosen) >= self._max_sentences or scores[i] < best * SECOND_SENTENCE_RATIO:
                break
            elsewhere = candidates[i].hit_index != chosen[0].hit_index
            if elsewhere and scores[i] < best * OTHER_PASSAGE_RATIO:
                continue
            if candidates[i].sentence not in {c.sentence for c in chosen}:
                chosen.append(candidates[i])
        chosen.sort(key=lambda c: (c.hit_index, c.position))
        return compose(chosen, hits)

    def rerank(self, question: str, hits: list[Hit], query_vector: np.ndarray) -> list[Hit]:
        """Passages ordered by their best sentence (the same score the answer
        uses, without passage rank): a passage that matches the question as a
        whole but holds the answer in a neighbour no longer comes first."""
        candidates = _candidates(hits)
        if not candidates:
            return hits
        scores = self._score(question, query_vector, candidates, by_rank=False)
        best = np.full(len(hits), -np.inf)
        for c, score in zip(candidates, scores, strict=True):
            best[c.hit_index] = max(best[c.hit_index], score)
        return [hits[i] for i in np.argsort(-best, kind="stable")]

    def _score(
        self, question: str, query: np.ndarray, candidates: list[_Candidate], by_rank: bool = True
    ) -> np.ndarray:
        meaning = self._vectors([c.sentence for c in candidates]) @ query
        spread = meaning.max() - meaning.min()
        meaning = (meaning - meaning.min()) / spread if spread > 1e-6 else np.ones_like(meaning)
        weights = self._term_weights(question)
        total = sum(weights.values()) or 1.0
        lexical = np.array(
            [sum(w for t, w in weights.items() if t in c.sentence) / total for c in candidates]
        )
        wants_number = bool(_ASKS_QUANTITY.search(question))
        number = np.array(
            [0.2 if wants_number and _HAS_QUANTITY.search(c.sentence) else 0.0 for c in candidates]
        )
        rank = np.array([0.1 / (c.hit_index + 1) if by_rank else 0.0 for c in candidates])
        return 0.5 * meaning + 0.5 * lexical + number + rank

    def _vectors(self, sentences: list[str]) -> np.ndarray:
        missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
        if len(self._cache) + len(missing) > _CACHE_LIMIT:
            self._cache.clear()  # bounded memory; a corpus's hot sentences refill it
        if missing:
            for sentence, vector in zip(
                missing, self._embedder.embed_passages(missing), strict=True
            ):
                self._cache[sentence] = vector
        return np.stack([self._cache[s] for s in sentences])


def compose(chosen: list[_Candidate], hits: list[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """Sentences with [n] markers, passages numbered in order of first use."""
    numbers: dict[int, int] = {}
    quotes: dict[int, list[str]] = {}
    parts = []
    for c in chosen:
        n = numbers.setdefault(c.hit_index, len(numbers) + 1)
        quotes.setdefault(c.hit_index, []).append(c.sentence)
        parts.append(f"{c.sentence}[{n}]")
    citations = tuple(
        Citation(n, hits[i], tuple(quotes[i]))
        for i, n in sorted(numbers.items(), key=lambda x: x[1])
    )
    return "".join(parts), citations
