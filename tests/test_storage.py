"""Writing an index, for every backend: an update changes only the passages
that changed, statistics stay those of a fresh build, and removal empties it.
Milvus runs as Milvus Lite (the real engine, embedded); the server-only part
(an unreachable address) is checked against a closed port."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from errors import BackendUnavailable, IndexNotFound, ManifestMismatch
from index.build import update_index
from index.milvus import (
    _MANIFEST,
    _TITLE_NAMES,
    MILVUS_FORMAT,
    MilvusStorage,
    _Names,
    collection_base,
)
from index.storage import storage_for
from index.titles import title_names
from ingest.entities import find_entities
from ingest.sentences import split_sentences
from settings import SHIPPED_CORPUS, Settings
from tests.fakes import HashingEmbedder
from tests.test_collection import BACKENDS, backend_settings

CASE = SHIPPED_CORPUS / "acftu_innovation_cases_2024.txt"
EXTRA = """# 测试市总工会：夜校课堂

测试市总工会开办职工夜校，开设茶艺、电工和直播带货课程，一年培训职工 4321 人次。
夜校课程由工会会员免费报名，学员结业后可参加技能等级认定。
"""
EDITED = EXTRA.replace("4321", "5678")


def build(settings: Settings, *paths, embedder=None, **options):
    embedder = embedder or HashingEmbedder()
    report = update_index(settings, list(paths), embedder=embedder, progress=False, **options)
    return report, embedder


def frequencies(collection, terms=("工会", "夜校", "职工", "调解", "茶艺")) -> dict:
    return {t: collection.doc_freq(t) for t in terms}


@pytest.fixture(params=BACKENDS)
def settings(request, tmp_path) -> Settings:
    return backend_settings(tmp_path / "data", request.param)


def test_an_update_embeds_and_writes_only_the_changed_passages(settings, tmp_path):
    extra = tmp_path / "extra.md"
    extra.write_text(EXTRA, encoding="utf-8")
    build(settings, CASE, extra)
    storage = storage_for(settings)
    first = storage.current_build()
    before = storage.open()
    assert frequencies(before)["茶艺"] == 1

    extra.write_text(EDITED, encoding="utf-8")
    report, embedder = build(settings, CASE, extra)
    assert report.changed == [str(extra)] and report.embedded == len(embedder.embedded) <= 2
    after = storage.open()
    assert storage.current_build() != first
    assert len(after) == len(before)
    hits = after.get([cid for cid, _ in after.search_lexical("夜校培训职工多少人次", 3)])
    assert "5678" in hits[0].text and all("4321" not in h.text for h in hits)
    # Kept and new passages alike come back with the entities found at ingest.
    stored = after.chunks()
    assert all(c.entities == find_entities(c.text) for c in stored)
    assert sum(bool(c.entities) for c in stored) > len(stored) // 2

    # The same statistics as a fresh build of the same files.
    fresh = backend_settings(tmp_path / "fresh", settings.backend)
    build(fresh, CASE, extra)
    assert frequencies(after) == frequencies(storage_for(fresh).open())
    assert after.places() == storage_for(fresh).open().places()
    # The names the titles give, the new case's among them (question focus).
    assert after.title_names() == title_names({c.title for c in stored})
    assert after.title_names() == storage_for(fresh).open().title_names()
    assert "夜校课堂" in after.title_names()

    report, _ = build(settings, CASE)  # the extra file is gone
    gone = storage.open()
    assert report.removed == [str(extra)] and report.embedded == 0
    assert frequencies(gone)["茶艺"] == 0 and len(gone) == 36
    assert "夜校课堂" not in gone.title_names()
    assert gone.search_lexical("茶艺 夜校", 5) == []


def test_removing_the_index_and_reading_a_missing_one(settings):
    storage = storage_for(settings)
    assert storage.current_build() is None
    with pytest.raises(IndexNotFound, match="python -m ingest"):
        storage.read_manifest()
    build(settings, CASE)
    storage.write_report({"files": 1})
    assert storage.read_report() == {"files": 1} and storage.problem() == ""
    storage.remove()
    assert storage.current_build() is None
    with pytest.raises(IndexNotFound):
        storage.open()


def in_place(root) -> Settings:
    """Per-passage upserts and deletes, as on a Milvus server (Lite writes copies)."""
    return backend_settings(root, "milvus").model_copy(update={"milvus_in_place": True})


@pytest.mark.slow
def test_milvus_in_place_updates_touch_only_changed_passages(tmp_path):
    settings = in_place(tmp_path / "data")
    build(settings, CASE)
    storage = MilvusStorage(settings)
    live = storage._physical().chunks
    before = {c.id for c in storage.open().chunks()}
    extra = tmp_path / "extra.md"
    extra.write_text(EXTRA, encoding="utf-8")
    build(settings, CASE, extra)
    assert storage._physical().chunks == live  # no copy: the same collections
    after = storage.open()
    added = {c.id for c in after.chunks()} - before
    assert len(added) == 1 and before < {c.id for c in after.chunks()}
    fresh = backend_settings(tmp_path / "fresh", "milvus")
    build(fresh, CASE, extra)
    assert frequencies(after) == frequencies(storage_for(fresh).open())
    assert after.places() == storage_for(fresh).open().places()
    (new,) = after.get(list(added))
    assert len(after.sentence_vectors(new.id)) == len(split_sentences(new.text)) > 1

    build(settings, CASE)
    assert {c.id for c in storage.open().chunks()} == before
    alone = backend_settings(tmp_path / "alone", "milvus")
    build(alone, CASE)
    assert frequencies(storage.open()) == frequencies(storage_for(alone).open())
    assert frequencies(storage.open())["茶艺"] == 0


@pytest.mark.slow
def test_milvus_lite_writes_a_new_generation_each_time(tmp_path):
    settings = backend_settings(tmp_path / "data", "milvus")
    build(settings, CASE)
    storage = MilvusStorage(settings)
    first = storage._physical().chunks
    extra = tmp_path / "extra.md"
    extra.write_text(EXTRA, encoding="utf-8")
    report, _ = build(settings, CASE, extra)
    second = storage._physical().chunks
    client = storage._calls.client
    assert second != first and not client.has_collection(first)  # old generation dropped
    assert report.embedded == 1 and len(storage.open()) == 37  # kept vectors were copied
    kept = storage.open().chunks()[0]
    assert len(storage.open().sentence_vectors(kept.id)) > 0

    # A build killed before its aliases switched leaves a generation nobody
    # reads: the next build drops it.
    storage._create(_Names(collection_base(settings) + "_gdeadbeef"), 64)
    build(settings, CASE, extra, rebuild=True)
    live = set(storage._physical().all())
    assert {n for n in client.list_collections() if n.startswith("ghqa_index_g")} == live


def test_a_milvus_index_of_another_format_is_refused_then_rebuilt_by_a_plain_build(tmp_path):
    """The message names the build command as it is: a build that cannot reuse
    the index embeds everything into a new generation, no --rebuild needed."""
    settings = backend_settings(tmp_path / "data", "milvus")
    build(settings, CASE)
    storage = MilvusStorage(settings)
    manifest = storage.read_manifest() | {"format_version": "milvus-0"}
    storage._calls.client.alter_collection_properties(
        storage._physical().chunks, properties={_MANIFEST: json.dumps(manifest)}
    )
    with pytest.raises(ManifestMismatch) as refused:
        storage.read_manifest()
    message = str(refused.value)
    assert message.endswith(storage.rebuild_hint) and "--rebuild" not in message
    report, _ = build(settings, CASE)
    assert report.embedded == 36 and report.full_rebuild_reason
    assert storage.read_manifest()["format_version"] == MILVUS_FORMAT
    assert len(storage.open()) == 36


def test_milvus_stores_the_title_names_and_finds_them_in_an_index_written_before(tmp_path):
    """Stored at write time, so that opening the index reads no passage; an index
    written before they were stored still gives them, from its passages' titles."""
    settings = backend_settings(tmp_path / "data", "milvus")
    build(settings, CASE)
    storage = MilvusStorage(settings)
    expected = title_names({c.title for c in storage.open().chunks()})
    assert expected and storage.open().title_names() == expected
    storage._calls.client.drop_collection_properties(
        storage._physical().chunks, property_keys=[_TITLE_NAMES]
    )
    assert _TITLE_NAMES not in storage._properties()
    assert storage.open().title_names() == expected


def test_milvus_lite_bm25_statistics_are_per_segment(tmp_path):
    """Why Lite writes copies: a passage upserted later is scored with its own
    segment's statistics. If this starts failing, Lite has fixed it and
    in-place updates can become its default too."""
    settings = in_place(tmp_path / "data")
    extra = tmp_path / "extra.md"
    extra.write_text(EXTRA, encoding="utf-8")
    build(settings, CASE, extra)
    ((chunk_id, together),) = storage_for(settings).open().search_lexical("茶艺", 1)
    build(settings, CASE)
    build(settings, CASE, extra)
    ((same_id, later),) = storage_for(settings).open().search_lexical("茶艺", 1)
    assert same_id == chunk_id and later < together / 3


@pytest.mark.slow
def test_milvus_recounts_terms_after_an_interrupted_write(tmp_path):
    settings = in_place(tmp_path / "data")
    build(settings, CASE)
    storage = MilvusStorage(settings)
    names = storage._physical()
    client = storage._calls.client
    # A write killed between its passages and its term counts leaves this mark
    # and wrong counts behind.
    client.alter_collection_properties(names.chunks, properties={"ghqa.writing": "1"})
    client.upsert(names.terms, [{"term": "工会", "df": 999, "place": False, "unused": [0, 0]}])
    extra = tmp_path / "extra.md"
    extra.write_text(EXTRA, encoding="utf-8")
    build(settings, CASE, extra)
    fresh = backend_settings(tmp_path / "fresh", "milvus")
    build(fresh, CASE, extra)
    assert frequencies(storage.open()) == frequencies(storage_for(fresh).open())


def test_collection_names_are_milvus_names_and_do_not_collide(tmp_path):
    def base(index_dir):
        return collection_base(Settings(data_dir=tmp_path, index_dir=index_dir))

    assert base(tmp_path / "index") == "ghqa_index"
    assert base(tmp_path / "kb" / "staff" / "index") == "ghqa_kb_staff_index"
    a, b = base(tmp_path / "kb" / "a-b" / "index"), base(tmp_path / "kb" / "a_b" / "index")
    assert a != b and a.replace("_", "").isalnum()
    assert base(tmp_path.parent / "elsewhere").startswith("ghqa_dir_")


def test_an_unreachable_milvus_server_is_a_clear_error(tmp_path):
    settings = Settings(
        data_dir=tmp_path, backend="milvus", milvus_uri="http://127.0.0.1:9", model="x"
    )
    storage = storage_for(settings)
    assert "无法连接 Milvus（http://127.0.0.1:9）" in storage.problem()
    with pytest.raises(BackendUnavailable, match="GHQA_MILVUS_URI"):
        storage.read_manifest()


def test_a_lite_file_held_by_another_process_is_a_clear_error(tmp_path):
    settings = backend_settings(tmp_path / "data", "milvus")
    settings.data_dir.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pymilvus import MilvusClient; "
            f"MilvusClient({settings.resolved_milvus_uri()!r}); print('open', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(BackendUnavailable, match="正被另一个进程使用"):
            storage_for(settings).read_manifest()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_request_milvus_refuses_names_the_command_that_rebuilds(tmp_path):
    from pymilvus.exceptions import MilvusException

    from index.milvus_client import Calls

    settings = backend_settings(tmp_path / "data", "milvus")
    with pytest.raises(BackendUnavailable) as refused, Calls(settings).guarded():
        raise MilvusException(message="field sparse not found")
    message = str(refused.value)
    assert "field sparse not found" in message and "\n" not in message
    assert f"python -m ingest --rebuild --index-dir {settings.resolved_index_dir()}" in message
