"""Offline evaluation: the set format, the metrics, reports, compare, and the
HTTP backend against a real server on loopback (hashing stand-in model)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from answer.service import AnswerService
from app import create_server
from eval.backends import HttpBackend, Observation, Passage, ServerUnavailable
from eval.compare import RunNotFound, compare, load_run
from eval.metrics import METRICS, bootstrap_ci, check_baseline, score, summarise
from eval.questions import EvalQuestion, EvalSetInvalid, load_set
from eval.report import write_reports
from eval.runner import ModeRun, Run, run_http, run_local
from index.build import update_index
from index.local import open_collection
from index.searcher import Searcher
from kb.library import Library
from kb.registry import Registry
from settings import SHIPPED_CORPUS, Settings
from tests.fakes import HashingEmbedder
from tests.servers import LoopbackServer, free_port
from web.ratelimit import MemoryRateLimiter

LINE = {
    "id": "q1",
    "question": "北京开了多少场沟通会？",
    "evidence": ["37885场"],
    "keywords": ["37885"],
}


def write_set(path: Path, rows: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the set format ---------------------------------------------------------------


def test_load_set_defaults_and_unknown_fields(tmp_path):
    rows = [LINE, {"id": "q2", "question": "上海呢？", "answerable": False, "owner": "x"}, ""]
    loaded = load_set(write_set(tmp_path / "s.jsonl", rows))
    first, second = loaded.questions
    assert first.answerable and first.source is None and first.tags == ()
    assert not second.answerable and second.extra == (("owner", "x"),)
    assert loaded.unknown_fields == ("owner",)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("{not json", "不是合法的 JSON"),
        ('["a list"]', "必须是一个 JSON 对象"),
        ('{"id": "x"}', "缺少字段 question"),
        ('{"id": "", "question": "q"}', "缺少字段 id"),
        ('{"id": "x", "question": "q", "evidence": "37885"}', "evidence 必须是字符串数组"),
        ('{"id": "x", "question": "q", "answerable": "no"}', "answerable 必须是 true 或 false"),
        ('{"id": "q1", "question": "again"}', "重复"),
    ],
)
def test_malformed_line_names_its_number(tmp_path, bad, reason):
    path = write_set(tmp_path / "s.jsonl", [LINE, "", bad])
    with pytest.raises(EvalSetInvalid) as err:
        load_set(path)
    assert "第 3 行" in str(err.value) and reason in str(err.value)


def test_missing_empty_and_non_utf8_sets(tmp_path):
    with pytest.raises(EvalSetInvalid, match="找不到评测集"):
        load_set(tmp_path / "none.jsonl")
    with pytest.raises(EvalSetInvalid, match="没有题目"):
        load_set(write_set(tmp_path / "empty.jsonl", [""]))
    (tmp_path / "gbk.jsonl").write_bytes(json.dumps(LINE, ensure_ascii=False).encode("gbk"))
    with pytest.raises(EvalSetInvalid, match="UTF-8"):
        load_set(tmp_path / "gbk.jsonl")


def test_relevance_ignores_print_layout_and_falls_back_to_source():
    q = EvalQuestion("q", "?", evidence=("37885场职工沟通会",))
    assert q.is_relevant("全市共召开37885场\n职工 沟通会")
    assert not q.is_relevant("全市共召开3788场职工沟通会")
    by_source = EvalQuestion("q", "?", source="北京市总工会")
    assert by_source.is_relevant("任何文字", organisation="北京市总工会")
    assert not by_source.is_relevant("任何文字", organisation="江苏省总工会")


# --- the metrics ----------------------------------------------------------------

REL, OTHER = Passage("r", "召开37885场", "北京", "t"), Passage("o", "别的", "江苏", "t")


def observe(retrieved, answer="", refused=False, cited=(), latency=10.0) -> Observation:
    return Observation(tuple(retrieved), answer, refused, tuple(cited), latency)


def test_ranks_give_recall_mrr_and_ndcg():
    q = EvalQuestion("q", "?", evidence=("37885",), keywords=("37885", "场"))
    first = score(q, observe([REL, OTHER], "共 37885 场。", cited=[REL, OTHER]))
    third = score(q, observe([OTHER, OTHER, REL, REL], "不知道"))
    assert (first.hit1, first.hit5, first.rr, first.ndcg) == (1.0, 1.0, 1.0, 1.0)
    assert (third.hit1, third.hit5, third.rr) == (0.0, 1.0, pytest.approx(1 / 3))
    ideal = 1 + 1 / math.log2(3)
    assert third.ndcg == pytest.approx((1 / math.log2(4) + 1 / math.log2(5)) / ideal)
    assert first.keyword_recall == 1.0 and first.citation_accuracy == 0.5
    assert third.keyword_recall == 0.0 and third.citation_accuracy is None


def test_keywords_ignore_case_and_spaces_and_refusals_find_none():
    q = EvalQuestion("q", "?", keywords=("LOGO", "2940 家"))
    assert score(q, observe([], "统一服务logo，建成2940家")).keyword_recall == 1.0
    assert score(q, observe([], "统一服务logo", refused=True)).keyword_recall == 0.0


def test_summary_separates_answerable_from_unanswerable():
    answerable = EvalQuestion("a", "?", evidence=("37885",), keywords=("37885",))
    unanswerable = EvalQuestion("u", "?", answerable=False)
    scored = [
        score(answerable, observe([REL], "37885", cited=[REL], latency=10)),
        score(answerable, observe([OTHER, REL], "资料中没有", refused=True, latency=20)),
        score(unanswerable, observe([OTHER], "瞎答", cited=[OTHER], latency=30)),
        score(unanswerable, observe([OTHER], "", refused=True, latency=40)),
    ]
    metrics = summarise(scored)
    assert list(metrics) == list(METRICS)
    assert metrics["recall@1"] == 0.5 and metrics["mrr@10"] == 0.75
    assert metrics["refusal_accuracy"] == 0.5 and metrics["false_refusal_rate"] == 0.5
    assert metrics["keyword_recall"] == 0.5 and metrics["citation_accuracy"] == 1.0
    assert metrics["latency_p50_ms"] == 25.0 and metrics["n"] == 4


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = [1.0] * 30 + [0.0] * 10
    low, high = bootstrap_ci(values)
    assert low < 0.75 < high and (low, high) == bootstrap_ci(values)
    assert bootstrap_ci([1.0] * 5) == (1.0, 1.0) and bootstrap_ci([]) is None


def test_baseline_check_knows_which_way_is_better():
    floors = {"recall@1": 0.9, "false_refusal_rate": 0.05, "citation_accuracy": None}
    assert check_baseline({"recall@1": 0.9, "false_refusal_rate": 0.05}, floors) == []
    worse = check_baseline({"recall@1": 0.88, "false_refusal_rate": 0.06}, floors)
    assert worse == ["recall@1 = 0.88 低于基线 0.9", "false_refusal_rate = 0.06 高于基线 0.05"]


# --- runs, reports and compare ------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> AnswerService:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("eval"),
        model="fake-hashing-embedder",
        answer_threshold=0.0,
    )
    embedder = HashingEmbedder()
    update_index(settings, [SHIPPED_CORPUS], embedder=embedder, progress=False)
    return AnswerService(
        Searcher(open_collection(settings.resolved_index_dir()), embedder, settings), settings
    )


@pytest.fixture
def small_set(tmp_path) -> Path:
    rows = [
        {**LINE, "evidence": ["37885场职工沟通会"], "tags": ["number"]},
        {
            "id": "js",
            "question": "江苏康乃馨服务站有多少家？",
            "evidence": ["康乃馨服务站2940家"],
            "keywords": ["2940"],
            "tags": ["number"],
        },
        # Fails (no passage holds the evidence), so the report shows it: escaped.
        {"id": "xss", "question": "<script>alert(1)</script>北京？", "evidence": ["无此文字"]},
    ]
    return write_set(tmp_path / "small.jsonl", rows)


def test_reports_are_written_and_self_contained(service, small_set, tmp_path):
    run = run_local(service.settings, load_set(small_set), ["hybrid", "bm25"], False, service)
    write_reports(run, tmp_path / "out")
    rows = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [(r["mode"], r["id"]) for r in rows][:3] == [
        ("hybrid", "q1"),
        ("hybrid", "js"),
        ("hybrid", "xss"),
    ]
    assert {"retrieved", "first_relevant_rank", "answer", "refused", "metrics"} <= set(rows[0])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["modes"]) == {"hybrid", "bm25"}
    assert set(summary["modes"]["hybrid"]["ci95"]) == {"recall@1", "mrr@10"}
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("<svg") == 2 and "<script>alert" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "external asset"
    assert "## 指标" in (tmp_path / "out" / "report.md").read_text()


def test_compare_lists_regressions_and_improvements(service, small_set, tmp_path):
    eval_set = load_set(small_set)
    run = run_local(service.settings, eval_set, ["hybrid"], False, service)
    write_reports(run, tmp_path / "a")
    worse = Run(eval_set)
    worse.modes["hybrid"] = ModeRun(
        run.modes["hybrid"].info,
        [score(s.question, observe([OTHER], "", refused=True)) for s in run.modes["hybrid"].scored],
    )
    write_reports(worse, tmp_path / "b")
    text = compare(load_run(tmp_path / "a"), load_run(tmp_path / "b"))
    assert "退步 3 题" in text and "q1：首个相关段落 第 1 名 → 未检出" in text
    assert "进步 0 题" in text
    assert re.search(r"recall@1\s+0.6667\s+0\s+-0.6667 ↓", text)
    with pytest.raises(RunNotFound, match="不是评测结果目录"):
        load_run(tmp_path)


def test_http_backend_matches_the_in_process_run(service, small_set):
    eval_set = load_set(small_set)
    local = run_local(service.settings, eval_set, ["hybrid"], False, service).modes["hybrid"]
    site = create_server(Library(Registry(service.settings), embedder=service.searcher.embedder))
    # Three requests per two seconds: the run has to wait out 429s and still finish.
    site.policy.limiter = MemoryRateLimiter(3, window=2.0)
    with LoopbackServer(site) as server:
        remote = run_http(HttpBackend(server.url, 5, None), eval_set, False).modes["hybrid"]
    assert remote.info.mode == "hybrid" and remote.info.model == "fake-hashing-embedder"
    for a, b in zip(local.scored, remote.scored, strict=True):
        assert [p.chunk_id for p in a.observation.retrieved] == [
            p.chunk_id for p in b.observation.retrieved
        ]
        assert a.observation.answer == b.observation.answer
    assert local.metrics["recall@1"] == remote.metrics["recall@1"]


def test_http_backend_unreachable_is_one_line():
    with pytest.raises(ServerUnavailable, match=r"无法连接 .*请确认服务已启动"):
        HttpBackend(f"http://127.0.0.1:{free_port()}", 5, None)


def test_readme_table_is_rewritten_between_markers(tmp_path):
    from errors import GhqaError
    from eval.configs import END, START, update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n\n{START}\nold\n{END}\n\nafter\n", encoding="utf-8")
    update_readme(readme, "| new |\n")
    assert readme.read_text(encoding="utf-8") == f"# t\n\n{START}\n| new |\n{END}\n\nafter\n"
    readme.write_text("no markers", encoding="utf-8")
    with pytest.raises(GhqaError, match="eval-table"):
        update_readme(readme, "| new |\n")
