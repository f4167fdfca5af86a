import pytest

from ingest.chunking import chunk_id, chunk_sections, make_splitter
from ingest.entities import read_entities, tag_entities
from ingest.records import Chunk, Section


def _section(*paragraphs, org="北京市总工会", title="深化双沟通"):
    return Section("a.txt", org, title, tuple(paragraphs), 1)


def test_chunks_split_on_sentence_ends_within_size():
    sentence = "全市共召开37885场职工沟通会，职工咨询人数84.43万人。"
    chunks = chunk_sections([_section(sentence * 20)], "/a.txt", make_splitter(100, 20))
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk.text) <= 100
        assert chunk.text.endswith(("。", "，"))


@pytest.mark.parametrize("text", ["没有标点" * 200, "Mixed 中英 text without stops " * 30])
def test_text_without_punctuation_is_still_cut_to_size(text):
    chunks = chunk_sections([_section(text)], "/a.txt", make_splitter(120, 20))
    assert all(len(c.text) <= 120 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "").startswith(text[:50].replace(" ", ""))


def test_every_chunk_carries_its_case_header():
    chunks = chunk_sections([_section("第一段。", "第二段。")], "/a.txt", make_splitter(300, 60))
    assert chunks[0].index_text == "北京市总工会 · 深化双沟通\n第一段。\n第二段。"
    assert (chunks[0].organisation, chunks[0].title, chunks[0].document) == (
        "北京市总工会",
        "深化双沟通",
        "a.txt",
    )


def test_chunk_id_is_a_content_hash():
    assert chunk_id("a.txt", "h", "同一段文字。") == chunk_id("a.txt", "h", " 同一段文字。 ")
    assert chunk_id("a.txt", "h", "同一段文字。") != chunk_id("b.txt", "h", "同一段文字。")
    assert chunk_id("a.txt", "h", "同一段文字。") != chunk_id("a.txt", "h2", "同一段文字。")


def test_repeated_passage_is_indexed_once():
    chunks = chunk_sections(
        [_section("重复。"), _section("重复。")], "/a.txt", make_splitter(300, 0)
    )
    assert len(chunks) == 1


def test_empty_section_gives_no_chunks():
    assert chunk_sections([_section()], "/a.txt", make_splitter(300, 60)) == []


def test_chunks_carry_the_people_places_and_organisations_they_name():
    chunks = chunk_sections(
        [_section("龙岩市总工会在新罗区设立驿站。")], "/a.txt", make_splitter(300, 60)
    )
    assert chunks[0].entities == "s0:3 O0:6 s7:3"
    assert [e.text for e in read_entities(chunks[0].entities, chunks[0].text)] == [
        "龙岩市",
        "龙岩市总工会",
        "新罗区",
    ]
    assert Chunk.from_json(chunks[0].to_json()) == chunks[0]
    # A chunk stored before entities were: None, so that the reader tags it itself.
    row = chunks[0].to_json()
    del row["entities"]
    assert Chunk.from_json(row).entities is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a foreign name the dictionary cuts into pieces is whole across its dot
        ("2009年，马克·拉瓦卢马纳纳宣布解散政府", [("p", "马克·拉瓦卢马纳纳")]),
        ("由保罗·塞里诺提出", [("p", "保罗·塞里诺")]),
        ("安德里·尼里纳·拉乔利纳宣布", [("p", "安德里·尼里纳·拉乔利纳")]),
        # a title before the name is not part of it
        ("最后一个王公瓦西里·谢苗诺维奇", [("p", "瓦西里·谢苗诺维奇")]),
        # two names joined by 和 stay two
        (
            "马伦·费尔德海斯和费姆克·海姆斯凯克在",
            [("p", "马伦·费尔德海斯"), ("p", "费姆克·海姆斯凯克")],
        ),
        # a dot between words that are not names joins nothing
        ("初代藩主·阿部正次的次男", []),
        # a place with its suffix is one place
        ("位于桃园市大溪区", [("s", "桃园市大溪区")]),
        # a place's first character the dictionary cut off (宜兰县/头/城镇) joins it...
        ("位于台湾宜兰县头城镇的渔港", [("s", "台湾宜兰县头城镇")]),
        # a transliterated place the dictionary cut into pieces joins the place
        # before it when it ends in a place suffix...
        ("化石发现于加州费雷斯诺县。", [("s", "加州费雷斯诺县")]),
        ("出生于法国瓦尔省", [("s", "法国瓦尔省")]),
        # ...and not when no suffix ends it
        ("加州费雷斯诺的农场", [("s", "加州"), ("p", "斯诺")]),
        # ...but a word between two places keeps them two
        ("欧洲文化城市", [("s", "欧洲"), ("s", "城市")]),
        ("北京和上海", [("s", "北京"), ("s", "上海")]),
        # a name's third character the dictionary tags as another word joins it...
        ("由袁丽嫦原唱", [("p", "袁丽嫦")]),
        ("制作人伍宗德与", [("p", "伍宗德")]),
        # ...but not a function word or a place's suffix
        ("肃宗的母亲", [("p", "肃宗")]),
        ("毛嘉在曹魏", [("p", "毛嘉"), ("p", "曹魏")]),
        ("康辉路", [("p", "康辉")]),
    ],
)
def test_entities_keep_dotted_names_and_place_suffixes_whole(text, expected):
    assert [(e.kind, e.text) for e in tag_entities(text)] == expected
