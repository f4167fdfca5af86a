"""`python -m index.search "问题"`: print the best passages for a question."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from errors import exit_on_error
from index.searcher import Hit, Searcher, clean_question
from settings import load_settings


@click.command(help="在索引中检索与问题最相关的段落。")
@click.argument("question")
@click.option("-k", "top_k", type=click.IntRange(1, 100), help="返回段落数（默认 5）")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "dense", "bm25"]),
    help="检索方式：混合（默认）、向量、BM25",
)
@click.option("--index-dir", type=click.Path(path_type=Path), help="索引目录（默认 data/index）")
@click.option("--model", help="sentence-transformers 模型 id 或本地目录")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 数组输出")
@exit_on_error
def main(
    question: str,
    top_k: int | None,
    mode: str | None,
    index_dir: Path | None,
    model: str | None,
    as_json: bool,
) -> None:
    question = clean_question(question)  # before the slow model load
    settings = load_settings(top_k=top_k, mode=mode, index_dir=index_dir, model=model)
    hits = Searcher.open(settings).search(question)
    if as_json:
        click.echo(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
    else:
        click.echo(format_hits(hits))


def format_hits(hits: list[Hit]) -> str:
    if not hits:
        return "没有找到相关段落。"
    lines = []
    for n, hit in enumerate(hits, 1):
        c = hit.chunk
        lines.append(
            f"[{n}] {hit.score:.4f}  {c.organisation or '—'} · {c.title}  《{c.document}》"
        )
        lines.extend(f"    {line}" for line in c.text.splitlines())
        lines.append("")
    return "\n".join(lines).rstrip()


if __name__ == "__main__":
    main(prog_name=f"{Path(sys.executable).name} -m index.search")
