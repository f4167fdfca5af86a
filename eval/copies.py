"""What both kinds of unanswerable copies start from (eval/other_numbers.py,
eval/unknown_words.py): each answerable question of a set, analysed and read as
the app does, so that a copy changes a question in what its own passages say.
eval/fit.py reads its fitting questions, and makes its number copies, the same way."""

from __future__ import annotations

from collections.abc import Iterator

from answer.question import QuestionAnalysis
from answer.service import AnswerService
from eval.questions import EvalQuestion, EvalSet
from index.searcher import Hit


def answerable_readings(
    service: AnswerService, eval_set: EvalSet
) -> Iterator[tuple[EvalQuestion, QuestionAnalysis, list[Hit]]]:
    """Each answerable question, its analysis and the passages it is answered from."""
    k = service.settings.top_k
    for question in eval_set.questions:
        if not question.answerable:
            continue
        q = service.analyse(question.question)
        ranked, _ = service.read(q, service.query(q, k), k)
        yield question, q, list(ranked)
