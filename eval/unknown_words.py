"""Copies of answerable questions asking about a detail the documents never
mention: "龙岩的驿站枫桥调解成功了多少件劳动争议？" becomes "…多少件劳动<noun>？"
with a noun no passage of the collection holds, which should be refused.

Users ask such questions ("哪个工会搞了职工书屋？" of a collection without 书屋)
and the question sets people write hold few: their unanswerable questions are
about articles left out of the index, whose every word is missing. The
answerability model cannot yet tell them from questions that put an official
term in everyday words (README, "A detail the documents never mention"), and
`python -m eval unknown-words` writes copies of a set as a set of their own, to
measure how many are refused:

    python -m eval unknown-words eval/sets/cmrc2018.jsonl --index-dir data/cmrc/index \
        --split eval --out data/eval/cmrc2018-unknown-words.jsonl
    python -m eval run data/eval/cmrc2018-unknown-words.jsonl --index-dir data/cmrc/index

The noun put in comes from jieba's dictionary, not from any corpus, so a copy
is as foreign to one collection as to another.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from functools import cache

import jieba
import jieba.posseg

from answer import answerability
from answer.question import QuestionAnalysis, tagged
from answer.service import AnswerService
from eval.copies import answerable_readings
from eval.questions import EvalSet
from index.searcher import Hit

# Everyday nouns (a jieba frequency of 100–3000: 上衣, 下水道, 三轮车), not
# rare ones a reader would take for a name, nor common ones the passages hold.
_FREQUENCY = (100, 3000)


@cache
def nouns() -> tuple[str, ...]:
    """jieba's dictionary nouns of two or three characters, in its order."""
    jieba.initialize()
    low, high = _FREQUENCY
    return tuple(
        w
        for w, flag in jieba.posseg.dt.word_tag_tab.items()
        if flag == "n" and 2 <= len(w) <= 3 and low <= jieba.dt.FREQ.get(w, 0) <= high
    )


def with_unknown_word(
    q: QuestionAnalysis,
    weights: dict[str, float],
    passages: str,
    unknown: Callable[[str], bool],
) -> str | None:
    """The question with the rarest noun the passages hold, other than its
    focus, changed to a noun `unknown` to the collection that the passages do
    not hold either (the same one on every run); None when it has no such noun.
    `weights`: the question's words by IDF (`AnswerabilityJudge.term_weights`)."""
    tags = dict(tagged(q.text))
    asked = [
        t
        for t in sorted(weights, key=weights.get, reverse=True)
        if tags.get(t) == "n" and t in passages and not any(t in f or f in t for f in q.focus)
    ]
    if not asked:
        return None
    order = sorted(nouns(), key=lambda w: zlib.crc32(f"{q.text}/{w}".encode()))
    other = next((w for w in order if w not in passages and w not in q.text and unknown(w)), "")
    return q.text.replace(asked[0], other, 1) if other else None


def copy_of(service: AnswerService, q: QuestionAnalysis, hits: list[Hit]) -> str | None:
    """`with_unknown_word` of a question the service read, with its passages."""
    collection = service.searcher.collection
    return with_unknown_word(
        q,
        service.judge.term_weights(q.text),
        answerability.passages_text(hits),
        lambda w: collection.doc_freq(w) == 0,
    )


def unknown_word_rows(service: AnswerService, eval_set: EvalSet) -> Iterator[dict]:
    """Eval-set rows (unanswerable) of the copies of the set's answerable
    questions, each asking about a noun the collection does not hold."""
    for question, q, hits in answerable_readings(service, eval_set):
        other = copy_of(service, q, hits)
        if other:
            yield question.unanswerable_copy(other, "unknown-word")
