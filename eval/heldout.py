"""`python -m eval.heldout`: the fitting split answered as if its questions were new.

`python -m eval run --split fit` answers the fitting questions with a reader
that was fitted on them, so a change to the reader looks better there than it
is. Here every fitting question is answered by the cross-fitted reader of its
fold, fitted on the other folds only (the readers `python -m eval.fit` makes
for the answerability and quote models), through the same AnswerService and
metrics as `python -m eval run`. The span, answerability and quote models are
the shipped ones; the reader alone is held out.

This is how a change to the reader is judged without reading the evaluation
split, which is never read here.
"""

from __future__ import annotations

import click
import numpy as np

from answer import answerability, quoting, reader
from answer.fitted import load_model
from errors import exit_on_error
from eval.backends import LocalBackend
from eval.fit import cross_fitted_readers, fold_of, load_examples, reader_data
from eval.metrics import Scored, score, summarise
from settings import load_settings

REPORTED = (
    "keyword_recall",
    "short_answer_accuracy",
    "refusal_accuracy",
    "false_refusal_rate",
)


def held_out_scores() -> dict[str, list[Scored]]:
    """Every fitting question scored, by corpus, each answered by a reader not fitted on it."""
    settings = load_settings()
    examples = load_examples(settings)
    answerable = [e for e in examples if e.question.answerable and e.question.keywords]
    readers = cross_fitted_readers(*reader_data(answerable))
    for service in {id(e.service): e.service for e in examples}.values():
        service.reader.span_model = load_model("spans", reader.SPAN_FEATURES)
        service.judge.model = load_model("answerability", answerability.FEATURES)
        service.quoter.model = load_model("quotes", quoting.QUOTE_FEATURES)
    scored: dict[str, list[Scored]] = {}
    for e in examples:
        e.service.reader.model = readers[fold_of(e)]
        observation = LocalBackend(e.service, settings.top_k).ask(e.question.question)
        scored.setdefault(e.corpus, []).append(score(e.question, observation))
    return scored


def table(scored: dict[str, list[Scored]]) -> str:
    """One Markdown row per corpus: the answer metrics, unanswerable questions
    refused, and the mean length of the answers given."""
    head = ["corpus", "n", *REPORTED, "unanswerable refused", "answer chars"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for corpus, runs in scored.items():
        metrics = summarise(runs)
        unanswerable = [s for s in runs if not s.question.answerable]
        refused = sum(s.observation.refused for s in unanswerable)
        answered = [len(s.observation.answer) for s in runs if not s.observation.refused]
        cells = [corpus, str(len(runs))]
        cells += [f"{metrics[m]:.4f}" if metrics[m] is not None else "–" for m in REPORTED]
        cells += [f"{refused}/{len(unanswerable)}", f"{np.mean(answered):.0f}" if answered else "–"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


@click.command(help="拟合集上的留出评测：每个问题由未见过它的阅读器作答（不读评测集）。")
@exit_on_error
def main() -> None:
    click.echo(table(held_out_scores()))


if __name__ == "__main__":
    main()
