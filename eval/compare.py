"""`python -m eval compare RUN_A RUN_B`: what changed between two runs, per
metric and per question (B against A)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from errors import GhqaError
from eval.metrics import LOWER_IS_BETTER, METRICS
from eval.report import RESULTS, SUMMARY


class RunNotFound(GhqaError):
    """A directory given to compare is not an evaluation run."""


@dataclass(frozen=True)
class LoadedRun:
    path: Path
    summary: dict
    results: dict[tuple[str, str], dict]  # (mode, question id) -> row of results.jsonl


def load_run(path: Path) -> LoadedRun:
    if not (path / SUMMARY).is_file() or not (path / RESULTS).is_file():
        raise RunNotFound(
            f"{path} 不是评测结果目录（缺少 {SUMMARY} 或 {RESULTS}）："
            "请给出 python -m eval run 的 --out 目录。"
        )
    try:
        summary = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
        rows = [
            json.loads(line) for line in (path / RESULTS).open(encoding="utf-8") if line.strip()
        ]
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunNotFound(f"{path} 中的结果文件已损坏（{exc}）：请重新运行评测。") from None
    return LoadedRun(path, summary, {(r["mode"], r["id"]): r for r in rows})


def question_changes(a: dict, b: dict) -> tuple[list[str], list[str]]:
    """(regressions, improvements) of one question, each as a short phrase."""
    worse, better = [], []

    def note(changed_for_better: bool, text: str) -> None:
        (better if changed_for_better else worse).append(text)

    rank_a, rank_b = a["first_relevant_rank"], b["first_relevant_rank"]
    if rank_a != rank_b and a["answerable"]:
        note(
            _rank_key(rank_b) < _rank_key(rank_a), f"首个相关段落 {_rank(rank_a)} → {_rank(rank_b)}"
        )
    ok_a, ok_b = a["metrics"]["refusal_correct"], b["metrics"]["refusal_correct"]
    if ok_a != ok_b:
        what = "拒答" if b["refused"] else "作答"
        note(ok_b, f"改为{what}（{'正确' if ok_b else '错误'}）")
    for name, label in (("keyword_recall", "关键词"), ("citation_accuracy", "引用准确")):
        va, vb = a["metrics"][name], b["metrics"][name]
        if va is not None and vb is not None and va != vb:
            note(vb > va, f"{label} {va:.2f} → {vb:.2f}")
    return worse, better


def compare(run_a: LoadedRun, run_b: LoadedRun) -> str:
    lines = [f"比较 A = {run_a.path}  →  B = {run_b.path}"]
    if run_a.summary["set"] != run_b.summary["set"]:
        lines.append(
            f"注意：两次评测的题集不同（{run_a.summary['set']} / {run_b.summary['set']}）。"
        )
    modes = [m for m in run_a.summary["modes"] if m in run_b.summary["modes"]]
    if not modes:
        lines.append("两次评测没有相同的检索方式，无法比较。")
    for mode in modes:
        lines += ["", f"== {mode} ==", *metric_deltas(run_a, run_b, mode), ""]
        lines += per_question(run_a, run_b, mode)
    return "\n".join(lines)


def metric_deltas(run_a: LoadedRun, run_b: LoadedRun, mode: str) -> list[str]:
    ma, mb = run_a.summary["modes"][mode]["metrics"], run_b.summary["modes"][mode]["metrics"]
    lines = [f"{'指标':<20}{'A':>10}{'B':>10}{'变化':>10}"]
    for name in METRICS:
        va, vb = ma.get(name), mb.get(name)
        delta = "" if va is None or vb is None else f"{vb - va:+.4g}"
        if delta and vb != va:
            good = (vb < va) == (name in LOWER_IS_BETTER)
            delta += " ↑" if good else " ↓"
        lines.append(f"{name:<22}{_num(va):>10}{_num(vb):>10}{delta:>12}")
    return lines


def per_question(run_a: LoadedRun, run_b: LoadedRun, mode: str) -> list[str]:
    ids_a = {qid for m, qid in run_a.results if m == mode}
    ids_b = {qid for m, qid in run_b.results if m == mode}
    regressions, improvements = [], []
    for qid in sorted(ids_a & ids_b):
        worse, better = question_changes(run_a.results[mode, qid], run_b.results[mode, qid])
        if worse:
            regressions.append(f"  - {qid}：{'；'.join(worse)}")
        if better:
            improvements.append(f"  + {qid}：{'；'.join(better)}")
    lines = [
        f"退步 {len(regressions)} 题：",
        *regressions,
        f"进步 {len(improvements)} 题：",
        *improvements,
    ]
    if ids_a - ids_b:
        lines.append("仅在 A 中：" + "、".join(sorted(ids_a - ids_b)))
    if ids_b - ids_a:
        lines.append("仅在 B 中：" + "、".join(sorted(ids_b - ids_a)))
    return lines


def _rank_key(rank: int | None) -> float:
    return rank if rank is not None else float("inf")


def _rank(rank: int | None) -> str:
    return f"第 {rank} 名" if rank else "未检出"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"
