"""What an extractive answer quotes, and the [n] that cite it.

The best candidate's sentence always, and each other sentence of its passage
that a logistic model fitted by `python -m eval.fit` gives at least the
cut-off chosen there of being part of the annotated answer. Its signals: how
far the sentence's score is below the best one's (a sentence the reader did
not score counts as below every one it did), its rank, whether it is the
sentence right after the best, whether the question asks for a typed fact,
and whether a short answer states it above the quote.

The cut-off is the lowest at which the quotes average eval.fit's QUOTE_CHARS
characters on the fitting questions, each read by a reader not fitted on it:
the answer is as long as under the fixed rule it replaced (the best sentence
and the two next best of its passage), and its sentences are the likeliest to
state the fact: one when the best is clear, more when it is not (README,
answers). Sentences of other passages are not quoted: chosen by the same
model they added the fact less often than they cited a passage without it.
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from answer.fitted import LogisticModel, load_model
from answer.reader import Reading, passage_sentences
from answer.records import Citation
from index.searcher import Hit

QUOTE_FEATURES = (
    "next",
    "score_gap",
    "rank",
    "wants_span",
    "short_answer",
)
# A sentence that opens an item of an enumeration ("一是…", "其二，…", "第三，…"),
# the way official documents list measures: the group names the enumeration's family.
_ENUMERATOR = re.compile(
    r"^[（(]?(?:[一二三四五六七八九十]+(是)|(其)[一二三四五六七八九十]|(第)[一二三四五六七八九十]+[，,、：:是])"
)
MAX_ITEMS = 8


class Quoter:
    def __init__(self, most: int = 6, model: LogisticModel | None = None) -> None:
        """`most`: sentences quoted at most (the sentences between two quoted one
        apart come on top)."""
        self.most = most
        self.model = model or load_model("quotes", QUOTE_FEATURES)

    def compose(self, reading: Reading, hits: list[Hit]) -> tuple[str, tuple[Citation, ...]]:
        """The answer's text with [n] markers, and its citations."""
        numbering = Numbering()
        text = numbering.mark(self.quotes(reading, hits))
        return text, numbering.citations()

    def quotes(self, reading: Reading, hits: list[Hit]) -> list[tuple[str, Hit]]:
        """The quoted sentences, each with its passage. A question asking for a
        list or a way whose best sentence is an item of an enumeration ("二是…")
        gets the enumeration's items instead ("一是…二是…三是…", up to MAX_ITEMS).
        The sentence the short answer was read in is always quoted: the bold fact
        is one the reader can see in a sentence with its [n], even when the span
        model found it in a sentence of another passage."""
        if not reading.candidates:
            return []
        best = reading.candidates[0]
        passage = hits[best.hit_index]
        items = _enumeration(best.sentence, passage.chunk.text) if reading.lists else []
        if len(items) > 1:
            return _with_support([(s, passage) for s in items], reading, hits)
        positions, x = options(reading, hits)
        chosen = [best.position]
        if positions:
            p = self.model.probability(x)
            cut = self.model.thresholds.get("quote", 0.5)
            likeliest = sorted(range(len(positions)), key=lambda i: -p[i])
            chosen += [positions[i] for i in likeliest if p[i] >= cut][: self.most - 1]
        if reading.short_answer and reading.short_from == best.hit_index:
            chosen.append(reading.short_at)  # in reading order with the rest
        text = passage.chunk.text
        at = passage_sentences(text)
        return _with_support(
            [(text[slice(*at[q])], passage) for q in _bridged(chosen)], reading, hits
        )


def options(reading: Reading, hits: list[Hit]) -> tuple[list[int], np.ndarray]:
    """The positions of the other sentences of the best candidate's passage,
    and their features in QUOTE_FEATURES order."""
    best = reading.candidates[0]
    score_of: dict[tuple[int, int], float] = {}
    for c, s in zip(reading.candidates, reading.scores, strict=True):
        score_of.setdefault((c.hit_index, c.position), s)  # a sentence or its best clause
    rank_of = {key: r for r, key in enumerate(score_of)}
    unread = min(reading.scores) - 1.0  # below every sentence the reader scored
    count = len(passage_sentences(hits[best.hit_index].chunk.text))
    positions = [p for p in range(count) if p != best.position]
    rows = []
    for p in positions:
        rank = rank_of.get((best.hit_index, p))
        rows.append(
            [
                float(p == best.position + 1),
                reading.best - score_of.get((best.hit_index, p), unread),
                1.0 / rank if rank else 0.0,
                float(reading.wants_span),
                float(bool(reading.short_answer)),
            ]
        )
    return positions, np.asarray(rows).reshape(-1, len(QUOTE_FEATURES))


def _with_support(
    quoted: list[tuple[str, Hit]], reading: Reading, hits: list[Hit]
) -> list[tuple[str, Hit]]:
    """`quoted`, and after it the short answer's sentence when it is not there."""
    if not reading.short_answer or reading.short_from < 0:
        return quoted
    passage = hits[reading.short_from]
    text = passage.chunk.text
    sentence = text[slice(*passage_sentences(text)[reading.short_at])]
    if any(h is passage and sentence in s for s, h in quoted):
        return quoted
    return [*quoted, (sentence, passage)]


def _bridged(positions: list[int]) -> list[int]:
    """The sentence positions in reading order, with the one between two that
    are one sentence apart added ([2, 4] -> [2, 3, 4]; [2, 5] stays)."""
    ordered = sorted(set(positions))
    between = {a + 1 for a, b in itertools.pairwise(ordered) if b - a == 2}
    return sorted(set(ordered) | between)


def _enumeration(sentence: str, passage: str) -> list[str]:
    """When `sentence` opens an item of an enumeration ("二是…"), the passage's
    sentences that open its items ("一是…", "二是…", "三是…"), in order; else []."""
    opened = _ENUMERATOR.match(sentence)
    if not opened:
        return []
    family = opened.groups()
    items = []
    for start, end in passage_sentences(passage):
        item = _ENUMERATOR.match(passage[start:end])
        if item and item.groups() == family:
            items.append(passage[start:end])
    return items[:MAX_ITEMS] if sentence in items else []


class Numbering:
    """Passages numbered [1], [2], … in order of first use, over every part of an
    answer: a passage quoted by two parts of a compound question keeps one number."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._hits: list[Hit] = []
        self._quotes: list[list[str]] = []

    def mark(self, quoted: list[tuple[str, Hit]]) -> str:
        """The sentences with one [n] after each run from the same passage ("甲。乙。[1]")."""
        parts = []
        for i, (sentence, hit) in enumerate(quoted):
            n = self._numbers.get(hit.chunk.id)
            if n is None:
                n = self._numbers[hit.chunk.id] = len(self._numbers) + 1
                self._hits.append(hit)
                self._quotes.append([])
            if sentence not in self._quotes[n - 1]:
                self._quotes[n - 1].append(sentence)
            run_ends = i + 1 == len(quoted) or quoted[i + 1][1].chunk.id != hit.chunk.id
            parts.append(f"{sentence}[{n}]" if run_ends else sentence)
        return "".join(parts)

    def citations(self) -> tuple[Citation, ...]:
        return tuple(
            Citation(n, hit, tuple(quotes))
            for n, (hit, quotes) in enumerate(zip(self._hits, self._quotes, strict=True), 1)
        )
