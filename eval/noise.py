"""`python -m eval.noise`: how far the held-out figures move when the fitting data moves a little.

A change to the answer models is judged by `python -m eval.heldout`, which
refits the reader per fold. But the reader is boosted trees fitted on ~500
questions: leave a few of them out and every figure moves by itself. This
command measures how far. Each run leaves a different `--leave-out` share of
each corpus's fitting questions out, fits every answer model on the rest into
a temporary directory (answer/models/ is not touched) and answers the questions
kept as `python -m eval.heldout` does (the shipped reader's seeds). The table
gives each figure's mean over the runs with the lowest and highest in
brackets: a change whose effect lies inside that range is not evidence. The
means are not `eval.heldout`'s: fewer questions are fitted and scored. But
every version of the code draws the same questions, so two versions' means
compare draw for draw: run it before and after a change.

Each run takes one to two minutes on two cores.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from errors import exit_on_error
from eval.fit import fit_models, load_examples, write_models
from eval.heldout import held_out_scores, table
from eval.metrics import Scored
from settings import load_settings


def perturbed_scores(runs: int, leave_out: float) -> list[dict[str, list[Scored]]]:
    """One held-out scoring per draw 1..runs, each with models fitted without
    that draw's questions."""
    settings = load_settings()
    scored = []
    for seed in range(1, runs + 1):
        examples = load_examples(settings, leave_out=leave_out, seed=seed)
        with tempfile.TemporaryDirectory(prefix="ghqa-noise-") as models:
            write_models(fit_models(settings, examples), Path(models))
            scored += held_out_scores(1, Path(models), leave_out, seed)
    return scored


@click.command(help="拟合数据略有变动时，留出评测的各项指标自身会浮动多少（每次一至两分钟）。")
@click.option("--runs", default=5, show_default=True, type=click.IntRange(2, 10))
@click.option(
    "--leave-out",
    default=0.08,
    show_default=True,
    type=click.FloatRange(0.01, 0.5),
    help="每次留出的拟合题比例（每个语料各自）。",
)
@exit_on_error
def main(runs: int, leave_out: float) -> None:
    click.echo(table(perturbed_scores(runs, leave_out)))


if __name__ == "__main__":
    main()
