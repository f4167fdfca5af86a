"""Copies of answerable questions asking about a number the documents do not
state: "2013年为什么没有参选？" becomes "2012年为什么没有参选？" when the passages
tell of 2013 and 2014, a year (or an edition) they do not cover, which should be
refused.

The question sets people write hold almost none, yet users ask them; the
answerability model learns from copies of the fitting questions (eval/fit.py),
and `python -m eval other-numbers` writes copies of an evaluation split as a set
of their own, to measure how many are refused:

    python -m eval other-numbers eval/sets/cmrc2018.jsonl --index-dir data/cmrc/index \
        --split eval --out data/eval/cmrc2018-other-numbers.jsonl
    python -m eval run data/eval/cmrc2018-other-numbers.jsonl --index-dir data/cmrc/index
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from answer import answerability
from answer.service import AnswerService
from eval.copies import answerable_readings
from eval.questions import EvalSet

_DIGITS = re.compile(r"(?<![\d.])\d+(?![\d.])")
_STEPS = (1, -1, 2, -2, 3, -3)  # the nearest other numbers first


def with_other_number(question: str, passages: str) -> str | None:
    """The question with its first number in digits that the passages state
    changed to the nearest one they do not, of as many digits; None when it
    has no such number. A number written with a leading zero keeps it ("AGG01"
    becomes "AGG02", not "AGG-1")."""
    for m in _DIGITS.finditer(question):
        number = m.group()
        if not answerability.states_number(passages, number):
            continue
        for step in _STEPS:
            value = int(number) + step
            other = str(value).zfill(len(number)) if number[0] == "0" else str(value)
            if (
                value >= 0
                and len(other) == len(number)
                and not answerability.states_number(passages, other)
            ):
                return question[: m.start()] + other + question[m.end() :]
    return None


def other_number_rows(service: AnswerService, eval_set: EvalSet) -> Iterator[dict]:
    """Eval-set rows (unanswerable) of the copies of the set's answerable
    questions, each changed in a number its passages state."""
    for question, _, hits in answerable_readings(service, eval_set):
        other = with_other_number(question.question, answerability.passages_text(hits))
        if other:
            yield question.unanswerable_copy(other, "other-number")
