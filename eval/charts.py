"""The report's charts as inline SVG (text drawn as paths: no fonts or files
needed to view them, so the HTML report stays one self-contained file)."""

from __future__ import annotations

import io
import logging

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.figure import Figure

QUALITY = (
    "recall@1",
    "recall@5",
    "mrr@10",
    "ndcg@10",
    "refusal_accuracy",
    "keyword_recall",
    "citation_accuracy",
)
COLOURS = {"hybrid": "#c0392b", "dense": "#2e86c1", "bm25": "#7d8a2e"}
_CJK_FONTS = ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC", "SimHei")


def _style() -> dict:
    # WenQuanYi's "medium" weight makes matplotlib log a warning per chart.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [f for f in _CJK_FONTS if f in installed]
    return {"svg.fonttype": "path", "font.family": [*cjk, "DejaVu Sans"], "font.size": 9}


def metrics_by_mode(metrics: dict[str, dict]) -> str:
    """Grouped bars: one group per metric, one bar per mode."""
    with mpl.rc_context(_style()):
        fig = Figure(figsize=(8, 3.2))
        ax = fig.subplots()
        modes = list(metrics)
        width = 0.8 / len(modes)
        for i, mode in enumerate(modes):
            values = [metrics[mode].get(m) or 0.0 for m in QUALITY]
            xs = [j + (i - (len(modes) - 1) / 2) * width for j in range(len(QUALITY))]
            bars = ax.bar(xs, values, width, label=mode, color=COLOURS.get(mode, "#888"))
            ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        ax.set_xticks(range(len(QUALITY)), QUALITY, rotation=20, ha="right")
        ax.set_ylim(0, 1.12)
        ax.set_ylabel("得分")
        ax.legend(ncols=len(modes), loc="upper center", bbox_to_anchor=(0.5, 1.18), frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)


def latency_distribution(latencies: dict[str, list[float]]) -> str:
    """Per-question latency, one box (with every question as a dot) per mode."""
    with mpl.rc_context(_style()):
        fig = Figure(figsize=(8, 0.8 + 0.7 * len(latencies)))
        ax = fig.subplots()
        modes = list(latencies)
        ax.boxplot(
            [latencies[m] for m in modes], orientation="horizontal", widths=0.5, showfliers=False
        )
        for i, mode in enumerate(modes, start=1):
            values = latencies[mode]
            ys = [i + ((j % 7) - 3) * 0.04 for j in range(len(values))]
            ax.scatter(values, ys, s=6, alpha=0.6, color=COLOURS.get(mode, "#888"))
        ax.set_yticks(range(1, len(modes) + 1), modes)
        ax.set_xscale("log")
        ax.set_xlabel("每题耗时（毫秒，对数刻度）")
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)


def _svg(fig: Figure) -> str:
    # A bare Figure (no pyplot): no global figure registry, no display backend.
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog and doctype for inlining
