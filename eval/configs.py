"""`python -m eval table`: the same set over every search mode and several chunk
sizes, as the Markdown table in the README's evaluation section."""

from __future__ import annotations

import re
from pathlib import Path

from answer.service import AnswerService
from errors import GhqaError
from eval.bench import bench_quality
from eval.metrics import METRICS
from eval.questions import EvalSet
from eval.report import write_atomic, write_reports
from eval.runner import MODES, Run, run_local
from index.build import update_index
from index.embedder import load_embedder
from index.local import open_collection
from index.searcher import Searcher
from settings import Settings

# The run metrics but the question count, which the note under the table gives once.
COLUMNS = tuple(m for m in METRICS if m != "n")
START, END = "<!-- eval-table:start -->", "<!-- eval-table:end -->"


def run_configurations(
    settings: Settings,
    eval_set: EvalSet,
    corpus: list[Path],
    chunk_sizes: list[int],
    out: Path,
    progress: bool,
) -> list[Run]:
    """One index per chunk size under `out` (built with the shared model), every
    mode over each; reports for each size in `out/chunk-N/`."""
    embedder = load_embedder(settings)
    runs = []
    for size in chunk_sizes:
        sized = settings.model_copy(
            update={"chunk_size": size, "index_dir": out / f"index-chunk-{size}"}
        )
        update_index(sized, corpus, embedder=embedder, progress=progress)
        searcher = Searcher(open_collection(sized.resolved_index_dir()), embedder, sized)
        run = run_local(sized, eval_set, list(MODES), progress, AnswerService(searcher, sized))
        run.label = f"chunk {size}"
        run.first_stage = bench_quality(searcher, eval_set.questions)
        write_reports(run, out / f"chunk-{size}")
        runs.append(run)
    return runs


def markdown_table(runs: list[Run], chunk_overlap: int) -> str:
    header = "| 检索方式 | 段长（字） | 检索器 hit@1 / mrr@10 | " + " | ".join(COLUMNS) + " |"
    rule = "|---|---:|---:|" + "---:|" * len(COLUMNS)
    rows = []
    for run in runs:
        size = run.label.removeprefix("chunk ")
        for mode, mode_run in run.modes.items():
            metrics = mode_run.metrics
            cells = " | ".join(_cell(metrics[c]) for c in COLUMNS)
            first = run.first_stage.get(mode, {})
            stage = f"{_cell(first.get('hit@1'))} / {_cell(first.get('mrr@10'))}"
            rows.append(f"| {mode} | {size} | {stage} | {cells} |")
    n = runs[0].modes[MODES[0]].metrics["n"] if runs else 0
    note = (
        f"\n{n} questions of `{runs[0].eval_set.path.name}`; chunk overlap {chunk_overlap} "
        "characters. 检索器 hit@1 / mrr@10: the retriever alone (`Searcher.search`), before "
        "the answer's place filter and sentence reordering; every other column is the whole "
        "answer path, latency per question in ms."
        if runs
        else ""
    )
    return "\n".join([header, rule, *rows]) + note + "\n"


def update_readme(readme: Path, table: str) -> None:
    """Replace what stands between the eval-table markers."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise GhqaError(f"{readme} 中没有 {START} … {END} 标记：请先在评测一节加上这两行。")
    write_atomic(readme, pattern.sub(lambda _: f"{START}\n{table}{END}", text))


def _cell(value: float | None) -> str:
    if value is None:
        return "—"
    # Rates and scores lie in [0, 1]; milliseconds (9.4, 20.1) take one decimal.
    return f"{value:.1f}" if value > 1 else f"{value:.3f}"
