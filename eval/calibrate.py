"""`python -m eval.calibrate`: fit the refusal thresholds on a question set.

For every question the evidence (place check, IDF-weighted term coverage, best
dense cosine) is measured once; then every pair of thresholds is scored by its
false-refusal rate (answerable questions refused) and false-answer rate
(unanswerable questions answered). The pair chosen keeps false refusals at or
below the target and, among those, answers the fewest unanswerable questions,
preferring the middle of the widest such region so small shifts do not flip it.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from answer.evidence import Evidence
from answer.service import AnswerService
from eval.questions import EvalQuestion, load_set
from settings import PROJECT_ROOT, load_settings

DEV_SET = PROJECT_ROOT / "eval" / "sets" / "dev.jsonl"
COVERAGE_GRID = np.round(np.arange(0.0, 0.951, 0.05), 2)
DENSE_GRID = np.round(np.arange(0.70, 0.901, 0.01), 2)


def measure(service: AnswerService, rows: tuple[EvalQuestion, ...]) -> list[Evidence]:
    """Evidence as the app sees it: same search, same place filter."""
    return [service.judge.assess(q.question, service.search(q.question)) for q in rows]


def rates(
    evidence: list[Evidence], rows: tuple[EvalQuestion, ...], cov: float, dense: float
) -> tuple:
    answerable = [q.answerable for q in rows]
    decided = [e.answerable(cov, dense) for e in evidence]
    pos = sum(answerable)
    neg = len(rows) - pos
    false_refusal = sum(a and not d for a, d in zip(answerable, decided, strict=True)) / pos
    false_answer = sum(d and not a for a, d in zip(answerable, decided, strict=True)) / max(neg, 1)
    return false_refusal, false_answer


def choose(
    evidence: list[Evidence], rows: tuple[EvalQuestion, ...], max_false_refusal: float
) -> dict:
    grid = {(c, d): rates(evidence, rows, c, d) for c in COVERAGE_GRID for d in DENSE_GRID}
    feasible = {k: v for k, v in grid.items() if v[0] <= max_false_refusal}
    best_fa = min(v[1] for v in feasible.values())
    region = sorted(k for k, v in feasible.items() if v[1] == best_fa)
    cov = float(np.median([c for c, _ in region]))
    dense = float(np.median([d for _, d in region]))
    cov = float(min(COVERAGE_GRID, key=lambda c: abs(c - cov)))
    dense = float(min(DENSE_GRID, key=lambda d: abs(d - dense)))
    fr, fa = rates(evidence, rows, cov, dense)
    return {
        "min_coverage": cov,
        "min_dense": dense,
        "false_refusal_rate": round(fr, 4),
        "false_answer_rate": round(fa, 4),
    }


@click.command(help="在问题集上拟合拒答阈值，并报告误拒率与误答率。")
@click.option(
    "--questions", type=click.Path(path_type=Path, exists=True), default=DEV_SET, show_default=True
)
@click.option("--max-false-refusal", default=0.05, show_default=True)
def main(questions: Path, max_false_refusal: float) -> None:
    settings = load_settings()
    rows = load_set(questions).questions
    evidence = measure(AnswerService.open(settings), rows)
    for row, ev in zip(rows, evidence, strict=True):
        click.echo(
            f"{'答' if row.answerable else '拒'} cov={ev.coverage:.2f} "
            f"dense={ev.dense_top:.3f} missing_places={list(ev.missing_places)} "
            f"{row.id}: {row.question}"
        )
    chosen = choose(evidence, rows, max_false_refusal)
    current = rates(evidence, rows, settings.refuse_min_coverage, settings.refuse_min_dense)
    chosen["current_settings"] = {
        "min_coverage": settings.refuse_min_coverage,
        "min_dense": settings.refuse_min_dense,
        "false_refusal_rate": round(current[0], 4),
        "false_answer_rate": round(current[1], 4),
    }
    chosen["questions"] = len(rows)
    chosen["unanswerable"] = sum(not q.answerable for q in rows)
    click.echo(json.dumps(chosen, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
