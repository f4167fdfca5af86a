"""Run an evaluation set through a backend, once per search mode, and keep
everything the reports and `compare` need."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tqdm import tqdm

from answer.service import AnswerService
from eval.backends import BackendInfo, HttpBackend, LocalBackend
from eval.metrics import Scored, by_answer_type, by_tag, intervals, score, summarise
from eval.questions import EvalSet
from index.searcher import Searcher
from settings import Settings

MODES = ("hybrid", "dense", "bm25")
# Answered before timing starts: the first call pays for lazy initialisation.
_WARM_UP = "工会"


@dataclass
class ModeRun:
    info: BackendInfo
    scored: list[Scored]

    @property
    def metrics(self) -> dict:
        return summarise(self.scored)

    def summary(self) -> dict:
        return {
            "metrics": self.metrics,
            "ci95": {k: list(v) if v else None for k, v in intervals(self.scored).items()},
            "by_tag": by_tag(self.scored),
            "by_answer_type": by_answer_type(self.scored),
        }


@dataclass
class Run:
    eval_set: EvalSet
    modes: dict[str, ModeRun] = field(default_factory=dict)
    created: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))
    label: str = ""  # e.g. "chunk 300" in the configuration table
    first_stage: dict = field(default_factory=dict)  # retriever-only quality, for the table

    def summary(self) -> dict:
        first = next(iter(self.modes.values())).info
        return {
            "set": str(self.eval_set.path),
            "created": self.created,
            "label": self.label,
            "target": first.target,
            "model": first.model,
            "k": first.k,
            "modes": {mode: run.summary() for mode, run in self.modes.items()},
        }


def run_local(
    settings: Settings,
    eval_set: EvalSet,
    modes: list[str],
    progress: bool,
    base: AnswerService | None = None,
) -> Run:
    """Load the index and model once (or take `base`, already loaded); each mode
    gets its own AnswerService over them."""
    base = base or AnswerService.open(settings)
    run = Run(eval_set)
    for mode in modes:
        mode_settings = base.settings.model_copy(update={"mode": mode})
        searcher = Searcher(base.searcher.collection, base.searcher.embedder, mode_settings)
        service = AnswerService(searcher, mode_settings, base.llm)
        backend = LocalBackend(service, mode_settings.top_k)
        run.modes[mode] = ModeRun(backend.info, ask_all(backend, eval_set, mode, progress))
    return run


def run_http(backend: HttpBackend, eval_set: EvalSet, progress: bool) -> Run:
    run = Run(eval_set)
    run.modes[backend.info.mode] = ModeRun(
        backend.info, ask_all(backend, eval_set, backend.info.mode, progress)
    )
    return run


def ask_all(backend, eval_set: EvalSet, mode: str, progress: bool) -> list[Scored]:
    backend.ask(_WARM_UP)
    questions = tqdm(
        eval_set.questions, desc=f"评测 {mode}", unit="题", disable=not progress, leave=False
    )
    return [score(q, backend.ask(q.question)) for q in questions]
