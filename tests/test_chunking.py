import pytest

from ingest.chunking import chunk_id, chunk_sections, make_splitter
from ingest.entities import read_entities
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
