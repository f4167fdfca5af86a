"""How the offline commands read a question as the app does: analysed with the
documents' title names, searched, read, and answered from its first k passages.
eval/fit.py reads its fitting questions this way; the unanswerable copies
(eval/other_numbers.py, eval/unknown_words.py) change a question in what these
passages say."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from answer.question import QuestionAnalysis
from answer.reader import Reading
from answer.service import AnswerService
from eval.questions import EvalQuestion, EvalSet
from index.searcher import Hit


def read_question(
    service: AnswerService, text: str
) -> tuple[QuestionAnalysis, np.ndarray, list[Hit], Reading]:
    """The question's analysis, its query vector, the first k passages and the
    reader's verdict on them."""
    q = service.analyse(text)
    k = service.settings.top_k
    query = service.query(q, k)
    ranked, reading = service.read(q, query, k)
    return q, query.vector, list(ranked[:k]), reading


def answerable_readings(
    service: AnswerService, eval_set: EvalSet
) -> Iterator[tuple[EvalQuestion, QuestionAnalysis, list[Hit]]]:
    """Each answerable question, its analysis and the passages it is answered from."""
    for question in eval_set.questions:
        if question.answerable:
            q, _, hits, _ = read_question(service, question.question)
            yield question, q, hits
