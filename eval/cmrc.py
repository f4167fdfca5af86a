"""`python -m eval.cmrc`: the second corpus, from the CMRC 2018 trial set.

CMRC 2018 (Cui et al., EMNLP-IJCNLP 2019; CC BY-SA 4.0, see
../shared/datasets/cmrc2018-trial/) holds 256 Chinese Wikipedia paragraphs
with 1,002 questions written by annotators. This command turns it into

* documents, one file per article (.md, .txt and .html in turn, so every loader
  is exercised), for every article that is *not* held out;
* an evaluation set in the project's format: the answer as `keywords`, the
  answer with a few characters around it as `evidence`, and a `split`.

Articles are assigned by a hash of their id, never by looking at them: one in
five is held out of the index (its questions become unanswerable questions that
sound like the corpus), and fit/eval halves are drawn independently, so both
splits have answerable and unanswerable questions and share no article.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

import click

from errors import CorpusNotFound, exit_on_error
from eval.report import write_atomic
from ingest.clean import normalise
from settings import PROJECT_ROOT

SOURCE = PROJECT_ROOT.parent / "shared" / "datasets" / "cmrc2018-trial" / "cmrc2018_trial.json"
DOCS = PROJECT_ROOT / "data" / "cmrc" / "docs"
SET = PROJECT_ROOT / "eval" / "sets" / "cmrc2018.jsonl"
HELD_OUT_SHARE = 0.2
_CONTEXT_CHARS = 4  # evidence: the answer and this many characters each side
_DISTINCT_CHARS = 8
ATTRIBUTION = (
    "CMRC 2018 trial set (Cui et al., EMNLP-IJCNLP 2019), CC BY-SA 4.0; converted by eval/cmrc.py"
)


def bucket(article_id: str, salt: str) -> float:
    """A stable number in [0, 1) for an article: the split never depends on content."""
    digest = hashlib.sha1(f"{salt}:{article_id}".encode()).hexdigest()
    return int(digest[:8], 16) / 16**8


def convert(source: Path, docs: Path) -> list[dict]:
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    docs.mkdir(parents=True, exist_ok=True)
    for old in docs.iterdir():
        old.unlink()
    rows = []
    for number, article in enumerate(data):
        held_out = bucket(article["id"], "held-out") < HELD_OUT_SHARE
        split = "fit" if bucket(article["id"], "split") < 0.5 else "eval"
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            if not held_out:
                write_document(docs, article["id"], article["title"], context, number)
            # A handful of trial questions are empty: nothing to ask, so nothing to keep.
            for qa in paragraph["qas"]:
                if normalise(qa["question"]).strip():
                    rows.append(question_row(qa, context, article, held_out, split))
    return rows


def write_document(docs: Path, article_id: str, title: str, context: str, number: int) -> None:
    kind = ("md", "txt", "html")[number % 3]
    if kind == "md":
        text = f"# {title}\n\n{context}\n"
    elif kind == "txt":
        text = f"{title}\n\n{context}\n"
    else:
        text = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(context)}</p>"
            "</body></html>\n"
        )
    (docs / f"{article_id}.{kind}").write_text(text, encoding="utf-8")


def question_row(qa: dict, context: str, article: dict, held_out: bool, split: str) -> dict:
    answer = qa["answers"][0]
    start, text = answer["answer_start"], answer["text"]
    if context[start : start + len(text)] != text:  # a few offsets are off: find the text
        start = max(context.find(text), 0)
    window = context[max(start - _CONTEXT_CHARS, 0) : start + len(text) + _CONTEXT_CHARS]
    # A long answer is distinctive by itself, and its window may straddle two chunks.
    evidence = [window, text] if len(text) >= _DISTINCT_CHARS else [window]
    keywords = list(dict.fromkeys(normalise(a["text"]).strip() for a in qa["answers"]))
    return {
        "id": qa["id"],
        "question": normalise(qa["question"]).strip(),
        "evidence": [] if held_out else [normalise(e).strip() for e in evidence],
        "keywords": [] if held_out else keywords,
        "source": article["title"],
        "answerable": not held_out,
        "tags": ["cmrc", "held-out" if held_out else "indexed"],
        "split": split,
    }


@click.command(help="把 CMRC 2018 试验集转换为文档目录和评测集（第二语料）。")
@click.option("--source", type=click.Path(path_type=Path), default=SOURCE, show_default=True)
@click.option("--docs", type=click.Path(path_type=Path), default=DOCS, show_default=True)
@click.option("--set", "set_path", type=click.Path(path_type=Path), default=SET, show_default=True)
@exit_on_error
def main(source: Path, docs: Path, set_path: Path) -> None:
    if not source.is_file():
        raise CorpusNotFound(f"找不到 {source}：请给出 cmrc2018_trial.json 的路径（--source）。")
    rows = convert(source, docs)
    write_atomic(set_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    answerable = sum(r["answerable"] for r in rows)
    fit = sum(r["split"] == "fit" for r in rows)
    click.echo(
        f"文档 {len(list(docs.iterdir()))} 篇 → {docs}；题目 {len(rows)} 道"
        f"（可答 {answerable}，不可答 {len(rows) - answerable}；拟合 {fit}，评测 {len(rows) - fit}）→ {set_path}"
    )


if __name__ == "__main__":
    main()
