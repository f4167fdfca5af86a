"""Question analysis, typed spans, the reader's candidates and the fitted models."""

import json

import numpy as np
import pytest

from answer.fitted import FittedModelInvalid, LogisticModel, load_model
from answer.question import TYPE_RULES, analyse, answer_type
from answer.reader import READER_FEATURES, SPAN_FEATURES, candidates_of, compose
from answer.spans import spans
from eval.metrics import short_answer_matches
from index.searcher import Hit
from ingest.records import Chunk


def _hit(text, cid="c"):
    return Hit(Chunk(cid, text, "a.txt", "/a.txt", "北京市总工会", "深化双沟通", 1, 0), 0.5)


@pytest.mark.parametrize(("kind", "example"), [(t, e) for t, _, e in TYPE_RULES])
def test_every_documented_example_gets_its_type(kind, example):
    assert answer_type(example) == kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("龙岩的驿站枫桥调解成功了多少件劳动争议？", "number"),
        ("滇中引水工程是哪一年开工的？", "date"),
        ("川工之家APP是哪家公司开发的？", "organisation"),
        ("陕西第八届职工科技节在哪里举办？", "place"),
        ("江苏为女职工建的服务站叫什么？", "name"),
        ("台州的五大技能提升行动是哪五个？", "list"),
        ("工会怎样帮助新就业形态劳动者入会？", "method"),
        ("How many meetings were held in Beijing?", "number"),
        ("工会的作用", "other"),
    ],
)
def test_answer_types(question, kind):
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("question", "focus", "slot", "unit"),
    [
        ("935线使用几辆巴士？", ("935线",), ("使用", "巴士"), "辆"),
        ("世宗大学的学费是多少万元？", ("世宗大学",), ("学费",), "万元"),
        ("世宗大学后来更名成什么？", ("世宗大学",), ("更名",), ""),
        ("东南C口通往什么地方？", ("东南C口",), ("通往", "地方"), ""),
        ("《泡泡战士》由哪家公司开发？", ("泡泡战士",), ("公司", "开发"), ""),
    ],
)
def test_focus_slot_and_unit(question, focus, slot, unit):
    q = analyse(question)
    assert (q.focus, q.slot, q.unit) == (focus, slot, unit)


@pytest.mark.parametrize(
    ("text", "kind", "unit", "expected"),
    [
        ("共召开37885场职工沟通会，职工咨询84.43万人", "number", "场", ["37885场", "84.43万人"]),
        ("调解成功800余件，涉及金额", "number", "件", ["800余件"]),
        ("她是第二位皇后", "number", "位", ["第二位"]),
        (
            "于1628年被发现，2009年9月27日-10月9日举行",
            "date",
            "",
            ["1628年", "2009年9月27日-10月9日"],
        ),
        ("保罗·皮尔斯获得最有价值球员奖", "person", "", ["保罗·皮尔斯"]),
        ("出版了第一部诗集《人象石柱》", "name", "", ["《人象石柱》"]),
        ("牛佬，原名文启明，香港漫画家", "name", "", ["文启明"]),
        ("2011年，首钢集团收购了股权", "organisation", "", ["首钢集团"]),
        ("没有数字的句子", "number", "", []),
    ],
)
def test_typed_spans(text, kind, unit, expected):
    assert [s.text for s in spans(text, kind, unit)] == expected


def test_a_number_with_the_asked_unit_fits_best():
    fits = {s.text: s.fit for s in spans("共有3辆巴士，全程12公里，编号935", "number", "辆")}
    assert fits["3辆"] > fits["12公里"] > fits["935"]


def test_candidates_are_sentences_and_their_clauses():
    found = candidates_of([_hit("第一句，有两个分句。第二句。")])
    assert [(c.text, c.clause) for c in found] == [
        ("第一句，有两个分句。", False),
        ("第一句，", True),
        ("有两个分句。", True),
        ("第二句。", False),
    ]
    assert {c.sentence for c in found if c.clause} == {"第一句，有两个分句。"}


def test_clauses_do_not_split_numbers():
    found = candidates_of([_hit("主看台有2,173个坐席，上午11:00开放，全天开放。")])
    assert [c.text for c in found if c.clause] == [
        "主看台有2,173个坐席，",
        "上午11:00开放，",
        "全天开放。",
    ]


def test_compose_quotes_whole_sentences_numbered_by_first_use():
    hits = [
        _hit("甲句话在此。", cid="a"),
        _hit("乙句话在此。", cid="b"),
        _hit("丙句话，丁句话。", cid="c"),
    ]
    chosen = [c for c in candidates_of(hits) if c.text in ("丁句话。", "甲句话在此。")]
    text, citations = compose(sorted(chosen, key=lambda c: -c.hit_index), hits)
    assert text == "丙句话，丁句话。[1]甲句话在此。[2]"
    assert [(c.n, c.hit.chunk.id, c.quotes) for c in citations] == [
        (1, "c", ("丙句话，丁句话。",)),
        (2, "a", ("甲句话在此。",)),
    ]


@pytest.mark.parametrize(
    ("short", "keywords", "ok"),
    [
        ("37885场", ["37885"], True),
        ("“3辆”", ["3辆"], True),
        ("800余件", ["800"], True),
        ("2.59万家", ["2.59万"], True),
        ("84.43万人", ["84.43万"], True),
        ("3年", ["3"], True),
        ("31年", ["3"], False),
        ("2.59万家企业", ["2.59万"], False),
        ("8公斤", ["约只有8公斤重"], False),
        ("2016年", ["6"], False),
        ("", ["6"], False),
        ("ＡＧＧ01", ["agg01"], True),
    ],
)
def test_short_answer_match_is_exact_after_normalisation(short, keywords, ok):
    assert short_answer_matches(short, keywords) is ok


def test_shipped_models_match_the_code():
    for name, features in (("reader", READER_FEATURES), ("spans", SPAN_FEATURES)):
        model = load_model(name, features)
        assert (
            model.fitted_on["questions"]["cmrc"] > 0 and model.fitted_on["questions"]["union"] > 0
        )
    judge = load_model("answerability", __import__("answer.answerability").answerability.FEATURES)
    assert 0 < judge.thresholds["llm"] <= judge.thresholds["answer"] < 1


def test_a_model_for_other_features_is_refused_with_what_to_run(tmp_path):
    model = LogisticModel(("a", "b"), (1.0, -1.0), 0.5)
    (tmp_path / "reader.json").write_text(json.dumps(model.to_json()), encoding="utf-8")
    with pytest.raises(FittedModelInvalid, match=r"请运行 python -m eval\.fit"):
        load_model("reader", READER_FEATURES, tmp_path)
    with pytest.raises(FittedModelInvalid, match="无法读取"):
        load_model("missing", READER_FEATURES, tmp_path)
    loaded = load_model("reader", ("a", "b"), tmp_path)
    assert np.allclose(loaded.probability([[1.0, 0.0]]), 1 / (1 + np.exp(-1.5)))
