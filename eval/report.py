"""A run's files: results.jsonl, summary.json, report.md and a self-contained
report.html. `compare` reads summary.json and results.jsonl back."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2

from atomic import write_atomic
from eval import charts
from eval.metrics import METRICS, Scored
from eval.runner import Run

TEMPLATES = Path(__file__).resolve().parent / "templates"
RESULTS, SUMMARY = "results.jsonl", "summary.json"
_SHOWN_PASSAGES = 3


def write_reports(run: Run, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summary = run.summary()
    lines = [
        json.dumps({"mode": mode, **s.to_json()}, ensure_ascii=False)
        for mode, mode_run in run.modes.items()
        for s in mode_run.scored
    ]
    write_atomic(out / RESULTS, "\n".join(lines) + "\n")
    write_atomic(out / SUMMARY, json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    context = report_context(run, summary)
    write_atomic(out / "report.md", _render("report.md.jinja", context, autoescape=False))
    context["charts"] = {
        "metrics": charts.metrics_by_mode({m: r.metrics for m, r in run.modes.items()}),
        "latency": charts.latency_distribution(
            {m: [s.observation.latency_ms for s in r.scored] for m, r in run.modes.items()}
        ),
    }
    write_atomic(out / "report.html", _render("report.html.jinja", context, autoescape=True))


def report_context(run: Run, summary: dict) -> dict:
    return {
        "summary": summary,
        "metric_names": METRICS,
        "modes": list(run.modes),
        "failures": {mode: failing(r.scored) for mode, r in run.modes.items()},
        "unknown_fields": run.eval_set.unknown_fields,
    }


def failing(scored: list[Scored]) -> list[dict]:
    """Failed questions with what was retrieved instead, for the report."""
    rows = []
    for s in scored:
        reasons = s.failures()
        if not reasons:
            continue
        q, o = s.question, s.observation
        rows.append(
            {
                "id": q.id,
                "question": q.question,
                "reasons": reasons,
                "evidence": list(q.evidence),
                "answer": o.answer,
                "short_answer": o.short_answer,
                "first_rank": s.first_rank,
                "passages": [
                    {
                        "rank": i + 1,
                        "where": f"{p.organisation} · {p.title}",
                        "snippet": p.text[:90] + ("…" if len(p.text) > 90 else ""),
                        "relevant": rel,
                    }
                    for i, (p, rel) in enumerate(
                        zip(o.retrieved[:_SHOWN_PASSAGES], s.relevant, strict=False)
                    )
                ],
            }
        )
    return rows


def fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.1f}"
    return str(value)


def interval(bounds: list[float] | None) -> str:
    return f"{fmt(bounds[0])} – {fmt(bounds[1])}" if bounds else "—"


def _render(name: str, context: dict, autoescape: bool) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.filters["interval"] = interval
    return env.get_template(name).render(**context)
