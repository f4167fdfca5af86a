"""The second corpus: CMRC-style JSON to documents and an evaluation set."""

import json

from eval.cmrc import bucket, convert, main
from eval.questions import load_set


def _article(i: int) -> dict:
    context = f"第{i}号条目，全称测试条目{i}号，创立于19{i:02d}年，共有{i}辆巴士。"
    start = context.index(f"19{i:02d}年")
    return {
        "id": f"A{i}",
        "title": f"条目{i}",
        "paragraphs": [
            {
                "id": f"A{i}-p",
                "context": context,
                "qas": [
                    {
                        "id": f"A{i}-q1",
                        "question": f"条目{i}创立于哪一年？",
                        "answers": [{"text": f"19{i:02d}年", "answer_start": start}],
                    },
                    {
                        "id": f"A{i}-q2",
                        "question": " ",
                        "answers": [{"text": "x", "answer_start": 0}],
                    },
                ],
            }
        ],
    }


def test_conversion_holds_out_articles_and_splits_by_article(tmp_path):
    source = tmp_path / "trial.json"
    source.write_text(json.dumps({"data": [_article(i) for i in range(40)]}), encoding="utf-8")
    docs = tmp_path / "docs"
    rows = convert(source, docs)
    # Empty questions are dropped; one row per real question.
    assert len(rows) == 40
    held = {r["source"] for r in rows if not r["answerable"]}
    assert 0 < len(held) < 20
    files = sorted(p.name for p in docs.iterdir())
    assert len(files) == 40 - len(held)
    assert {p.rsplit(".", 1)[1] for p in files} == {"md", "txt", "html"}
    for r in rows:
        article = r["id"].split("-")[0]
        assert r["split"] == ("fit" if bucket(article, "split") < 0.5 else "eval")
        if r["answerable"]:
            assert r["keywords"] == [r["keywords"][0]] and r["keywords"][0] in r["evidence"][0]
            assert r["evidence"][1:] in ([], [r["keywords"][0]])
        else:
            assert r["keywords"] == [] and r["evidence"] == []
    # Split is by article: no article has questions on both sides.
    sides = {}
    for r in rows:
        sides.setdefault(r["source"], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())


def test_cli_writes_a_set_the_evaluator_reads(tmp_path):
    from click.testing import CliRunner

    source = tmp_path / "trial.json"
    source.write_text(json.dumps({"data": [_article(i) for i in range(12)]}), encoding="utf-8")
    out = tmp_path / "set.jsonl"
    result = CliRunner().invoke(
        main, ["--source", str(source), "--docs", str(tmp_path / "d"), "--set", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "题目 12 道" in result.output
    loaded = load_set(out)
    assert loaded.unknown_fields == ()
    fit, rest = loaded.only("fit").questions, loaded.only("eval").questions
    assert len(fit) + len(rest) == 12


def test_missing_source_is_one_line():
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["--source", "/nonexistent/trial.json"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("错误：找不到 /nonexistent/trial.json")
