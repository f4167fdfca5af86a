"""`python -m eval run|compare|table|other-numbers`: offline evaluation from the command line.

stdout carries only the result (the metrics, or with --json one JSON object);
progress bars, warnings and library chatter go to stderr.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import sys
from pathlib import Path

import click

from errors import GhqaError, exit_on_error
from eval.backends import HttpBackend
from eval.compare import compare, load_run
from eval.configs import markdown_table, run_configurations, update_readme
from eval.metrics import LOWER_IS_BETTER, METRICS, check_baseline, intervals
from eval.questions import EvalSet, load_set
from eval.report import fmt, interval, write_atomic, write_reports
from eval.runner import MODES, Run, run_http, run_local
from settings import PROJECT_ROOT, SHIPPED_CORPUS, Settings, load_settings

# Gated metrics: quality only; latency depends on the machine.
GATED = [m for m in METRICS if not m.startswith("latency")]


class OptionsInvalid(GhqaError):
    """Command-line options that cannot be used together."""


@click.group(help="离线评测：检索、回答、引用与拒答的指标和报告。")
def cli() -> None:
    pass


@cli.command(help="用评测集 SET（JSONL）评测，写出报告。")
@click.argument("set_path", metavar="SET", type=click.Path(path_type=Path))
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice([*MODES, "all"]),
    help="检索方式，可重复；all 为三种都评（默认 GHQA_MODE，即 hybrid）",
)
@click.option("-k", "k", type=click.IntRange(1, 10), help="交给回答的段落数（默认 5）")
@click.option("--index-dir", type=click.Path(path_type=Path), help="索引目录（默认 data/index）")
@click.option("--url", help="改为评测运行中的服务，例如 http://127.0.0.1:7860")
@click.option("--token", envvar="GHQA_API_TOKEN", help="服务的 API 令牌（配合 --url）")
@click.option(
    "--out", type=click.Path(path_type=Path), help="报告目录（默认 data/eval/<集名>-<时间>）"
)
@click.option("--json", "as_json", is_flag=True, help="stdout 只输出一个 JSON 对象")
@click.option("--gate", type=click.Path(path_type=Path), help="基线文件：有指标不如基线则退出码 1")
@click.option("--save-baseline", type=click.Path(path_type=Path), help="把本次指标写为基线文件")
@click.option(
    "--split", type=click.Choice(["fit", "eval"]), help="只评测这一部分的题目（默认全部）"
)
@click.option("--quiet", is_flag=True, help="不显示进度条")
@exit_on_error
def run(
    set_path: Path,
    modes: tuple[str, ...],
    k: int | None,
    index_dir: Path | None,
    url: str | None,
    token: str | None,
    out: Path | None,
    as_json: bool,
    gate: Path | None,
    save_baseline: Path | None,
    split: str | None,
    quiet: bool,
) -> None:
    settings = load_settings(index_dir=index_dir, top_k=k)
    chosen = list(MODES) if "all" in modes else list(dict.fromkeys(modes)) or [settings.mode]
    if as_json and len(chosen) > 1:
        raise OptionsInvalid("--json 只输出一种检索方式的指标：请只给一个 --mode。")
    if url and index_dir:
        raise OptionsInvalid("--url 评测服务端自己的索引：请去掉 --index-dir。")
    eval_set = _load(set_path).only(split)
    # Library output (model loading, warnings) must not mix with the result on stdout.
    with contextlib.redirect_stdout(sys.stderr):
        if url:
            backend = HttpBackend(url, k or settings.top_k, token)
            served = backend.info.mode
            if modes and chosen != [served]:
                raise OptionsInvalid(
                    f"服务端的检索方式是 {served}：--url 只能评测它，请去掉 --mode 或用 "
                    f"GHQA_MODE={chosen[0]} 重启服务。"
                )
            result = run_http(backend, eval_set, not quiet)
        else:
            result = run_local(settings, eval_set, chosen, not quiet)
        out = out or _default_out(settings, set_path)
        write_reports(result, out)
    _print_result(result, out, as_json)
    if save_baseline:
        _save_baseline(result, save_baseline, split)
    if gate:
        _check_gate(result, gate)


def _copies_command(name: str, summary: str, rows: str) -> click.Command:
    """A command writing unanswerable copies of SET's answerable questions, made
    by `rows` ("module:function", imported when run: it loads the index)."""

    @cli.command(name=name, help=summary)
    @click.argument("set_path", metavar="SET", type=click.Path(path_type=Path))
    @click.option(
        "--out", type=click.Path(path_type=Path), required=True, help="写出的评测集（JSONL）"
    )
    @click.option(
        "--index-dir", type=click.Path(path_type=Path), help="索引目录（默认 data/index）"
    )
    @click.option(
        "--split", type=click.Choice(["fit", "eval"]), help="只用这一部分的题目（默认全部）"
    )
    @exit_on_error
    def command(set_path: Path, out: Path, index_dir: Path | None, split: str | None) -> None:
        from answer.service import AnswerService

        module, function = rows.split(":")
        copies_of = getattr(importlib.import_module(module), function)
        eval_set = _load(set_path).only(split)
        with contextlib.redirect_stdout(sys.stderr):
            service = AnswerService.open(load_settings(index_dir=index_dir))
            written = list(copies_of(service, eval_set))
        write_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in written))
        click.echo(f"{len(written)} 道题 -> {_relative(out)}")

    return command


_copies_command(
    "other-numbers",
    "把评测集 SET 中可答的问题换一个文档没有写到的数字（年份、届次），"
    "写成一个不可答的评测集，检验会不会拒答。",
    "eval.other_numbers:other_number_rows",
)
_copies_command(
    "unknown-words",
    "把评测集 SET 中可答的问题里的一个名词换成知识库没有的名词，"
    "写成一个不可答的评测集，检验会不会拒答。",
    "eval.unknown_words:unknown_word_rows",
)


@cli.command(name="compare", help="比较两次评测（--out 目录）：指标变化与逐题退步、进步。")
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@exit_on_error
def compare_command(run_a: Path, run_b: Path) -> None:
    click.echo(compare(load_run(run_a), load_run(run_b)))


@cli.command(help="三种检索方式 × 多种段长，输出 README 评测一节的表格。")
@click.argument("set_path", metavar="SET", type=click.Path(path_type=Path))
@click.option("--chunk-sizes", default="300,500", show_default=True, help="逗号分隔的段长")
@click.option("--readme", type=click.Path(path_type=Path), help="把表格写进这个 README 的标记之间")
@click.option(
    "--out", type=click.Path(path_type=Path), help="索引与报告目录（默认 data/eval/table）"
)
@click.option("--quiet", is_flag=True, help="不显示进度条")
@exit_on_error
def table(set_path: Path, chunk_sizes: str, readme: Path | None, out: Path | None, quiet: bool):
    try:
        sizes = [int(s) for s in chunk_sizes.split(",") if s.strip()]
    except ValueError:
        raise OptionsInvalid("--chunk-sizes 须是逗号分隔的整数，例如 300,500。") from None
    settings = load_settings()
    eval_set = _load(set_path)
    out = out or settings.data_dir / "eval" / "table"
    with contextlib.redirect_stdout(sys.stderr):
        runs = run_configurations(settings, eval_set, [SHIPPED_CORPUS], sizes, out, not quiet)
    text = markdown_table(runs, settings.chunk_overlap)
    click.echo(text)
    if readme:
        update_readme(readme, text)
        click.echo(f"已更新 {readme}", err=True)


def _load(path: Path) -> EvalSet:
    eval_set = load_set(path)
    if eval_set.unknown_fields:
        click.echo(
            f"警告：{path} 中有未知字段，已忽略：{'、'.join(eval_set.unknown_fields)}", err=True
        )
    return eval_set


def _default_out(settings: Settings, set_path: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = settings.data_dir / "eval" / f"{set_path.stem}-{stamp}"
    suffix = 1
    while out.exists():
        suffix += 1
        out = settings.data_dir / "eval" / f"{set_path.stem}-{stamp}-{suffix}"
    return out


def _headline(result: Run, mode: str) -> dict:
    info = result.modes[mode].info
    return {**result.modes[mode].metrics, "mode": mode, "k": info.k, "model": info.model}


def _print_result(result: Run, out: Path, as_json: bool) -> None:
    if as_json:
        mode = next(iter(result.modes))
        click.echo(json.dumps(_headline(result, mode), ensure_ascii=False))
        click.echo(f"报告：{out / 'report.html'}", err=True)
        return
    modes = list(result.modes)
    click.echo(f"{'指标':<20}" + "".join(f"{m:>12}" for m in modes))
    for name in METRICS:
        values = "".join(f"{fmt(result.modes[m].metrics[name]):>12}" for m in modes)
        click.echo(f"{name:<22}{values}")
    bounds = {m: intervals(result.modes[m].scored) for m in modes}
    for name in ("recall@1", "mrr@10"):
        cis = "；".join(f"{m} {interval(bounds[m][name])}" for m in modes)
        click.echo(f"{name} 95% 置信区间：{cis}")
    click.echo(f"报告：{out / 'report.html'}")


def _save_baseline(result: Run, path: Path, split: str | None) -> None:
    mode = next(iter(result.modes))
    headline = _headline(result, mode)
    baseline = {
        "set": _relative(result.eval_set.path),
        "split": split or "all",
        "mode": mode,
        "k": headline["k"],
        "model": headline["model"],
        "metrics": {m: headline[m] for m in GATED},
        "lower_is_better": sorted(LOWER_IS_BETTER & set(GATED)),
    }
    write_atomic(path, json.dumps(baseline, ensure_ascii=False, indent=2) + "\n")
    click.echo(f"基线已写入 {path}", err=True)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _check_gate(result: Run, path: Path) -> None:
    try:
        baseline = json.loads(path.read_text(encoding="utf-8"))
        mode, floors = baseline["mode"], baseline["metrics"]
    except (OSError, ValueError, KeyError) as exc:
        raise OptionsInvalid(
            f"无法读取基线文件 {path}（{exc}）：可用 --save-baseline 生成。"
        ) from None
    if mode not in result.modes:
        raise OptionsInvalid(f"基线是 {mode} 方式的：请加上 --mode {mode}。")
    worse = check_baseline(result.modes[mode].metrics, floors)
    for line in worse:
        click.echo(f"退步：{line}", err=True)
    if worse:
        sys.exit(1)
    click.echo(f"基线检查通过（{path}）。", err=True)


if __name__ == "__main__":
    cli(prog_name="python -m eval")
