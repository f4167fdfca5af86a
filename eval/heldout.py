"""`python -m eval.heldout`: the fitting split answered as if its questions were new.

`python -m eval run --split fit` answers the fitting questions with a reader
and a span model that were fitted on them, so a change to either looks better
there than it is. Here every fitting question is answered by the cross-fitted
reader of its fold (the readers `python -m eval.fit` makes for the
answerability and quote models) and by a span model fitted, like the shipped
one, on the other folds' questions only, through the same AnswerService and
metrics as `python -m eval run`. The answerability and quote models are the
shipped ones.

This is how a change to the reader or the short answers is judged without
reading the evaluation split, which is never read here.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from answer import answerability, quoting, reader
from answer.fitted import MODELS_DIR, load_model, load_ranker
from errors import exit_on_error
from eval.backends import LocalBackend
from eval.fit import (
    CROSS_FOLDS,
    RANKER_SEEDS,
    cross_fitted_readers,
    fit_spans,
    fold_of,
    load_examples,
    reader_data,
    span_questions,
)
from eval.metrics import Scored, score, summarise
from settings import load_settings

REPORTED = (
    "keyword_recall",
    "short_answer_accuracy",
    "refusal_accuracy",
    "false_refusal_rate",
)


def held_out_scores(
    repeats: int = 1, models: Path = MODELS_DIR, leave_out: float = 0.0, seed: int = 0
) -> list[dict[str, list[Scored]]]:
    """Every fitting question scored, by corpus, each answered by a reader and
    a span model not fitted on it; once per repeat, each with its own LightGBM
    seeds (the first with the shipped reader's), because a refit moves a few
    questions by itself. `models`: where the answerability and quote models
    (and the reader that reads span options) come from; `leave_out`, `seed`:
    the fitting questions left out of them (`python -m eval.noise`), left out
    here too."""
    settings = load_settings()
    examples = load_examples(settings, leave_out=leave_out, seed=seed)
    answerable = [e for e in examples if e.question.answerable and e.question.keywords]
    data = reader_data(answerable)
    for service in {id(e.service): e.service for e in examples}.values():
        # The span options are read as `python -m eval.fit` reads them: by the shipped reader.
        service.reader.model = load_ranker("reader", reader.READER_FEATURES, models)
        service.judge.model = load_model("answerability", answerability.FEATURES, models)
        service.quoter.model = load_model("quotes", quoting.QUOTE_FEATURES, models)
    spans = span_questions(answerable)
    folds = [fold_of(e) for e in answerable]
    span_models = [
        fit_spans([q for q, g in zip(spans, folds, strict=True) if g != f], {})
        for f in range(CROSS_FOLDS)
    ]
    runs = []
    n = len(RANKER_SEEDS)
    for repeat in range(repeats):
        readers = cross_fitted_readers(*data, seeds=tuple(range(repeat * n, repeat * n + n)))
        scored: dict[str, list[Scored]] = {}
        for e in examples:
            e.service.reader.model = readers[fold_of(e)]
            e.service.reader.span_model = span_models[fold_of(e)]
            observation = LocalBackend(e.service, settings.top_k).ask(e.question.question)
            scored.setdefault(e.corpus, []).append(score(e.question, observation))
        runs.append(scored)
    return runs


def table(runs: list[dict[str, list[Scored]]]) -> str:
    """One Markdown row per corpus: the answer metrics, unanswerable questions
    refused and the mean length of the answers given; over several runs, their
    mean with the lowest and highest in brackets. Runs over different questions
    (`python -m eval.noise`) give their sizes' range and the share refused."""
    head = ["corpus", "n", *REPORTED, "unanswerable refused", "answer chars"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for corpus in runs[0]:
        sizes = {len(run[corpus]) for run in runs}
        unanswerable = {sum(not s.question.answerable for s in run[corpus]) for run in runs}
        # Counts of different totals do not average: their shares do.
        shares = len(unanswerable) > 1
        columns = [_columns(run[corpus], shares) for run in runs]
        refused = ("{:.3f}", "") if shares else ("{:.3g}", f"/{unanswerable.pop()}")
        cells = [corpus, "–".join(map(str, sorted({min(sizes), max(sizes)})))]
        forms = [("{:.4f}", "")] * len(REPORTED) + [refused, ("{:.0f}", "")]
        for i, (form, suffix) in enumerate(forms):
            cells.append(_cell([c[i] for c in columns], form, suffix))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _columns(scored: list[Scored], shares: bool = False) -> list[float | None]:
    """The reported metrics, the unanswerable questions refused (their count,
    or with `shares` their share) and the mean answer length."""
    metrics = summarise(scored)
    unanswerable = [s for s in scored if not s.question.answerable]
    answered = [len(s.observation.answer) for s in scored if not s.observation.refused]
    refused = sum(s.observation.refused for s in unanswerable)
    return [
        *(metrics[m] for m in REPORTED),
        (refused / len(unanswerable) if shares else refused) if unanswerable else None,
        float(np.mean(answered)) if answered else None,
    ]


def _cell(values: list[float | None], form: str, suffix: str) -> str:
    if any(v is None for v in values):
        return "–"
    mean, low, high = (form.format(v) for v in (np.mean(values), min(values), max(values)))
    return mean + suffix if len(values) == 1 else f"{mean}{suffix} ({low}–{high})"


@click.command(help="拟合集上的留出评测：每个问题由未见过它的阅读器作答（不读评测集）。")
@click.option(
    "--repeats",
    default=1,
    show_default=True,
    type=click.IntRange(1, 10),
    help="用不同随机种子重复几次，报告平均值与范围。",
)
@exit_on_error
def main(repeats: int) -> None:
    click.echo(table(held_out_scores(repeats)))


if __name__ == "__main__":
    main()
