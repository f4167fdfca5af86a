import json
import shutil

import numpy as np
import pytest

from errors import CorpusEmpty, CorpusNotFound, IndexNotFound, ManifestMismatch
from index import dense, store
from index.build import update_index
from index.local import open_collection
from index.searcher import Searcher
from index.storage import check_model, storage_for
from tests.conftest import CORPUS_FILE
from tests.fakes import HashingEmbedder


@pytest.fixture
def corpus_dir(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(CORPUS_FILE, folder / "cases.txt")
    (folder / "extra.md").write_text(
        "# 附加材料\n\n## 上海市总工会\n\n### 职工疗休养\n\n上海市总工会组织劳模疗休养共计1200人次。\n",
        encoding="utf-8",
    )
    return folder


def _build(settings, paths, embedder, **kw):
    return update_index(settings, paths, embedder=embedder, progress=False, **kw)


def test_save_load_round_trip(fake_settings, fake_embedder, corpus_dir):
    report = _build(fake_settings, [corpus_dir], fake_embedder)
    assert (report.files, report.cases, report.written) == (2, 16, True)
    loaded = store.load_index(fake_settings.resolved_index_dir())
    assert len(loaded.chunks) == report.chunks == len(loaded.vectors) == loaded.faiss.ntotal
    assert loaded.manifest["model"]["id"] == "fake-hashing-embedder"
    assert loaded.manifest["counts"] == {"files": 2, "cases": 16, "chunks": report.chunks}
    expected = fake_embedder.embed_passages([c.index_text for c in loaded.chunks])
    np.testing.assert_allclose(loaded.vectors.all(), expected, rtol=1e-6)
    # chunks.jsonl is readable text, Chinese kept as is
    raw = (loaded.path / "chunks.jsonl").read_text(encoding="utf-8")
    assert "37885场职工沟通会" in raw


def test_bm25_search_finds_the_number(fake_settings, fake_embedder, corpus_dir):
    _build(fake_settings, [corpus_dir], fake_embedder)
    collection = open_collection(fake_settings.resolved_index_dir())
    searcher = Searcher(collection, fake_embedder, fake_settings)
    hit = searcher.search("北京双沟通召开了多少场职工沟通会", mode="bm25")[0]
    assert "37885" in hit.chunk.text and hit.bm25_rank == 1
    hybrid = searcher.search("北京双沟通召开了多少场职工沟通会", k=3)
    assert len(hybrid) == 3 and hybrid[0].chunk.organisation == "北京市总工会"


def test_missing_index_message(fake_settings):
    with pytest.raises(IndexNotFound) as err:
        store.load_index(fake_settings.resolved_index_dir())
    index_dir = fake_settings.resolved_index_dir()
    assert str(err.value) == (
        f"{index_dir} 中还没有索引。请先建索引：python -m ingest --index-dir {index_dir}"
    )


def test_index_built_with_another_model_is_refused(fake_settings, fake_embedder, corpus_dir):
    _build(fake_settings, [corpus_dir], fake_embedder)
    index_dir = fake_settings.resolved_index_dir()
    manifest = store.read_manifest(index_dir)
    with pytest.raises(ManifestMismatch) as err:
        check_model(manifest, storage_for(fake_settings), "BAAI/bge-small-zh-v1.5")
    assert str(err.value) == (
        f"{index_dir} 的索引是用模型 fake-hashing-embedder 建的，当前配置的模型是 "
        f"BAAI/bge-small-zh-v1.5。请用当前模型重新建索引：python -m ingest --index-dir "
        f"{index_dir}（或把 GHQA_MODEL 设回 fake-hashing-embedder）"
    )


def test_index_of_another_format_version_is_refused(fake_settings, fake_embedder, corpus_dir):
    _build(fake_settings, [corpus_dir], fake_embedder)
    index_dir = fake_settings.resolved_index_dir()
    manifest_path = index_dir / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ManifestMismatch) as err:
        store.load_index(index_dir)
    assert str(err.value) == (
        f"{index_dir} 的索引格式版本是 99，本程序需要 {store.INDEX_FORMAT}。"
        f"请重新建索引：python -m ingest --index-dir {index_dir}"
    )


@pytest.mark.parametrize("crash_in", ["save_faiss", "bm25_save", "point_current"])
def test_interrupted_build_leaves_previous_index_working(
    fake_settings, fake_embedder, corpus_dir, monkeypatch, crash_in
):
    _build(fake_settings, [corpus_dir], fake_embedder)
    index_dir = fake_settings.resolved_index_dir()
    before = store.load_index(index_dir)
    (corpus_dir / "new.txt").write_text("新增文件的内容。", encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # what a Ctrl-C or kill leaves behind at that point

    target = {
        "save_faiss": (dense, "save_faiss"),
        "bm25_save": (store.Bm25Index, "save"),
        "point_current": (store, "_point_current_at"),
    }[crash_in]
    monkeypatch.setattr(*target, crash)
    with pytest.raises(KeyboardInterrupt):
        _build(fake_settings, [corpus_dir], fake_embedder)
    monkeypatch.undo()

    after = store.load_index(index_dir)
    assert after.path == before.path
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
    # The next build cleans up and succeeds.
    report = _build(fake_settings, [corpus_dir], fake_embedder)
    assert report.added == [str((corpus_dir / "new.txt").resolve())]
    assert not list((index_dir / "builds").glob("*.partial"))
    assert len(list((index_dir / "builds").iterdir())) == 1


def test_incremental_updates_embed_only_what_changed(fake_settings, corpus_dir):
    embedder = HashingEmbedder()
    first = _build(fake_settings, [corpus_dir], embedder)
    assert first.embedded == first.chunks and first.reused == 0

    embedder.embedded.clear()
    unchanged = _build(fake_settings, [corpus_dir], embedder)
    assert (unchanged.written, unchanged.embedded, embedder.embedded) == (False, 0, [])
    assert len(unchanged.unchanged) == 2

    extra = corpus_dir / "extra.md"
    extra.write_text(
        extra.read_text(encoding="utf-8") + "\n另外新增疗休养基地3个。\n", encoding="utf-8"
    )
    changed = _build(fake_settings, [corpus_dir], embedder)
    assert changed.changed == [str(extra.resolve())]
    assert changed.embedded == 1 and changed.reused == changed.chunks - 1
    assert "另外新增疗休养基地3个" in embedder.embedded[0]

    (corpus_dir / "added.txt").write_text(
        "乙省总工会\n\n新的案例标题\n\n新案例正文。", encoding="utf-8"
    )
    added = _build(fake_settings, [corpus_dir], embedder)
    assert len(added.added) == 1 and added.embedded == 1

    extra.unlink()
    removed = _build(fake_settings, [corpus_dir], embedder)
    assert removed.removed == [str(extra.resolve())] and removed.embedded == 0
    chunks = store.load_index(fake_settings.resolved_index_dir()).chunks
    assert not any("疗休养" in c.text for c in chunks)
    assert any(c.organisation == "乙省总工会" for c in chunks)


def test_changing_chunk_size_rechunks_but_reuses_identical_passages(fake_settings, corpus_dir):
    embedder = HashingEmbedder()
    _build(fake_settings, [corpus_dir], embedder)
    rechunked = _build(fake_settings.model_copy(update={"chunk_size": 120}), [corpus_dir], embedder)
    assert len(rechunked.changed) == 2 and rechunked.written
    assert rechunked.embedded > 0 and rechunked.reused > 0


def test_other_model_reembeds_everything(fake_settings, corpus_dir):
    _build(fake_settings, [corpus_dir], HashingEmbedder())
    other = fake_settings.model_copy(update={"model": "fake-other"})
    report = _build(other, [corpus_dir], HashingEmbedder("fake-other", 32))
    assert report.embedded == report.chunks and report.reused == 0
    assert "模型、运行时或提示词已更换" in report.full_rebuild_reason


def test_index_whose_sentences_were_split_otherwise_is_refused_then_reembedded(
    fake_settings, corpus_dir
):
    """Sentence vectors follow the sentence splitter: an index built before it
    changed would pair a sentence with another's vector. The app refuses it
    with the command to run, and that command embeds everything again."""
    _build(fake_settings, [corpus_dir], HashingEmbedder())
    index_dir = fake_settings.resolved_index_dir()
    path = store.current_build(index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    del manifest["sentences"]  # as written before the splitter was recorded
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ManifestMismatch) as err:
        check_model(manifest, storage_for(fake_settings), manifest["model"]["id"])
    assert str(err.value) == (
        f"{index_dir} 的句子向量是按旧的分句规则建的，程序已更新分句规则。"
        f"请重新建索引：python -m ingest --index-dir {index_dir}"
    )
    report = _build(fake_settings, [corpus_dir], HashingEmbedder())
    assert report.embedded == report.chunks and report.reused == 0
    assert report.full_rebuild_reason == "分句规则已更新，句子向量全部重新嵌入"
    check_model(store.read_manifest(index_dir), storage_for(fake_settings), "fake-hashing-embedder")


def test_unreadable_files_are_skipped_and_the_rest_ingested(
    fake_settings, fake_embedder, corpus_dir
):
    (corpus_dir / "photo.png").write_bytes(b"\x89PNG\r\n")
    (corpus_dir / "broken.txt").write_bytes(b"\x00\x00binary")
    report = _build(fake_settings, [corpus_dir], fake_embedder)
    assert report.files == 2
    reasons = dict((p.rsplit("/", 1)[1], r) for p, r in report.skipped)
    assert reasons == {
        "broken.txt": "看起来是二进制文件，不是文本",
        "photo.png": "不支持的文件类型 .png，支持：.docx, .htm, .html, .markdown, .md, .pdf, .txt",
    }


def test_corpus_errors(fake_settings, fake_embedder, tmp_path):
    with pytest.raises(CorpusNotFound, match="找不到语料路径"):
        _build(fake_settings, [tmp_path / "nope"], fake_embedder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusEmpty, match="语料路径中没有文件"):
        _build(fake_settings, [empty], fake_embedder)
    (empty / "x.png").write_bytes(b"png")
    with pytest.raises(CorpusEmpty, match="没有可导入的文档：1 个文件都被跳过"):
        _build(fake_settings, [empty], fake_embedder)


def test_inverted_file_is_used_above_the_threshold(fake_settings, corpus_dir):
    settings = fake_settings.model_copy(update={"ann_threshold": 10})
    _build(settings, [corpus_dir], HashingEmbedder())
    loaded = store.load_index(settings.resolved_index_dir())
    assert loaded.manifest["dense"]["kind"] == "ivf"
    assert dense.kind_of(loaded.faiss) == "ivf"
    flat = dense.build_faiss(loaded.vectors.all(), dense.DenseParams(10**9))
    query = loaded.vectors[3]
    assert [r for r, _ in dense.top(loaded.faiss, query, 5)] == [
        r for r, _ in dense.top(flat, query, 5)
    ]


def test_inverted_lists_keep_enough_training_points_each():
    assert dense.number_of_lists(200_000) == 1788  # 4·√n
    assert dense.number_of_lists(10_000) == 256  # 39 points each, as FAISS wants
    assert dense.number_of_lists(20) == 1


def test_the_scale_bench_measures_recall_on_real_and_noisier_vectors(fake_settings, corpus_dir):
    from eval.scale import noisy_recall, real_vector_recall

    _build(fake_settings, [corpus_dir], HashingEmbedder())
    index_dir = fake_settings.resolved_index_dir()
    loaded = store.load_index(index_dir)
    sentences = sum(len(loaded.sentences_of(r)) for r in range(len(loaded.chunks)))
    queries = loaded.vectors.all()[:20]
    found = real_vector_recall(index_dir, fake_settings, queries)
    assert len(loaded.chunks) < found["vectors"] <= len(loaded.chunks) + sentences
    assert found["nprobe"] >= found["lists"] and found["recall@10"] == 1.0  # every list read
    # An inverted file from 200 vectors on (one list, read whole): exact.
    ivf = fake_settings.model_copy(update={"ann_threshold": 200})
    assert noisy_recall(index_dir, 400, ivf, queries) == 1.0


@pytest.mark.parametrize("size", [30, 5_000, 200_000])
def test_bm25_best_rows_are_the_highest_scores_best_first(size):
    """The sampled cut must not change the result: every case is checked
    against a full sort (ties to the lower row), including sparse scores with
    fewer positives than asked for and a top the sample misses entirely."""
    from index.bm25 import best_rows

    rng = np.random.default_rng(size)
    cases = [
        rng.random(size).astype(np.float32),  # every row positive
        np.where(rng.random(size) < 0.01, rng.random(size), 0).astype(np.float32),  # sparse
        np.round(rng.random(size) * 3).astype(np.float32),  # many ties
        np.zeros(size, dtype=np.float32),
    ]
    spikes = np.zeros(size, dtype=np.float32)
    spikes[rng.choice(size, 7, replace=False)] = rng.random(7) + 1  # fewer than n, off-sample
    cases.append(spikes)
    for scores in cases:
        for n in (1, 10, 50):
            expected = sorted(np.flatnonzero(scores > 0), key=lambda r: (-scores[r], r))[:n]
            assert best_rows(scores, n).tolist() == expected


def test_place_aliases_come_from_organisations_and_place_words():
    from index.bm25 import place_aliases

    aliases = place_aliases({"安徽", "工会", "北京"}, {"福建龙岩市总工会", "陕西省总工会"})
    assert aliases["anhui"] == ["安徽"] and aliases["beijing"] == ["北京"]
    assert aliases["longyan"] == ["龙岩"] and aliases["longyanshi"] == ["龙岩市"]
    assert "陕西" in aliases["shaanxi"]
    assert "gonghui" not in aliases and "zonggonghui" not in aliases


def test_english_question_naming_a_place_finds_its_case(fake_settings, fake_embedder, corpus_dir):
    _build(fake_settings, [corpus_dir], fake_embedder)
    searcher = Searcher(
        open_collection(fake_settings.resolved_index_dir()), fake_embedder, fake_settings
    )
    for question, organisation in [
        ("How many job fairs did Anhui hold?", "安徽省总工会"),
        ("What is the Longyan station model?", "福建龙岩市总工会"),
    ]:
        assert searcher.search(question, mode="bm25")[0].chunk.organisation == organisation


def test_second_build_at_the_same_time_is_refused(fake_settings, fake_embedder, corpus_dir):
    from errors import IndexBusy

    index_dir = fake_settings.resolved_index_dir()
    with store.build_lock(index_dir), pytest.raises(IndexBusy) as err:
        _build(fake_settings, [corpus_dir], fake_embedder)
    assert str(err.value) == f"{index_dir} 正在被另一个导入任务更新。请等它结束后再运行。"
    assert _build(fake_settings, [corpus_dir], fake_embedder).written


def test_sentence_vectors_are_stored_with_each_chunk(fake_settings, corpus_dir):
    from ingest.sentences import split_sentences

    embedder = HashingEmbedder()
    _build(fake_settings, [corpus_dir], embedder)
    index = store.load_index(fake_settings.resolved_index_dir())
    assert index.sentence_vectors.dtype == np.float16
    assert isinstance(index.sentence_vectors, store.RowFile)  # not read into memory at load
    for row in (0, 7, len(index.chunks) - 1):
        sentences = split_sentences(index.chunks[row].text)
        expected = np.stack([embedder._vector(s) for s in sentences])
        np.testing.assert_allclose(index.sentences_of(row), expected, atol=2e-3)

    # An edited file: the unchanged passages keep their sentence vectors as they were.
    extra = corpus_dir / "extra.md"
    extra.write_text(extra.read_text(encoding="utf-8") + "\n新增一句。\n", encoding="utf-8")
    _build(fake_settings, [corpus_dir], embedder)
    after = store.load_index(fake_settings.resolved_index_dir())
    row_of = {c.id: row for row, c in enumerate(after.chunks)}
    for row, chunk in enumerate(index.chunks[:10]):
        np.testing.assert_array_equal(after.sentences_of(row_of[chunk.id]), index.sentences_of(row))


class _StopsAfter(HashingEmbedder):
    """Interrupted like Ctrl-C in the middle of its `calls`-th batch."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def embed_chunks(self, texts, sentences):
        self.calls -= 1
        if self.calls < 0:
            raise KeyboardInterrupt
        return super().embed_chunks(texts, sentences)


def test_interrupted_embedding_resumes_from_checkpoints(fake_settings, corpus_dir):
    settings = fake_settings.model_copy(update={"embed_batch_size": 4})
    with pytest.raises(KeyboardInterrupt):
        _build(settings, [corpus_dir], _StopsAfter(3))
    index_dir = settings.resolved_index_dir()
    assert not (index_dir / "current").exists()
    assert len(list((index_dir / "checkpoints").glob("*/part-*.npz"))) == 3

    embedder = HashingEmbedder()
    report = _build(settings, [corpus_dir], embedder)
    assert report.resumed == 12 and report.embedded == report.chunks - 12
    assert len(embedder.embedded) == report.chunks - 12  # nothing embedded twice
    assert not (index_dir / "checkpoints").exists()
    loaded = store.load_index(index_dir)
    expected = embedder.embed_passages([c.index_text for c in loaded.chunks])
    np.testing.assert_allclose(loaded.vectors.all(), expected, rtol=1e-6)


def test_checkpoints_of_another_model_are_not_used(fake_settings, corpus_dir):
    settings = fake_settings.model_copy(update={"embed_batch_size": 4})
    with pytest.raises(KeyboardInterrupt):
        _build(settings, [corpus_dir], _StopsAfter(2))
    other = settings.model_copy(update={"model": "fake-other"})
    report = _build(other, [corpus_dir], HashingEmbedder("fake-other", 32))
    assert report.resumed == 0 and report.embedded == report.chunks


def test_rebuild_discards_checkpoints(fake_settings, corpus_dir):
    settings = fake_settings.model_copy(update={"embed_batch_size": 4})
    with pytest.raises(KeyboardInterrupt):
        _build(settings, [corpus_dir], _StopsAfter(2))
    report = _build(settings, [corpus_dir], HashingEmbedder(), rebuild=True)
    assert report.resumed == 0 and report.embedded == report.chunks


def test_many_files_are_read_by_worker_processes(fake_settings, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(10):
        (folder / f"f{i}.txt").write_text(f"甲{i}省总工会\n\n案例{i}\n\n正文第{i}段。", "utf-8")
    (folder / "bad.pdf").write_bytes(b"not a pdf")
    report = _build(fake_settings, [folder], HashingEmbedder())
    assert report.files == 10 and len(report.skipped) == 1 and report.cases == 10
    loaded = store.load_index(fake_settings.resolved_index_dir())
    # File order is kept, whatever order the workers finish in.
    assert [c.organisation for c in loaded.chunks] == [f"甲{i}省总工会" for i in range(10)]
    # The workers also tokenised the passages for BM25: the same index as
    # tokenising them in this process.
    in_process = fake_settings.model_copy(
        update={"ingest_workers": 0, "index_dir": tmp_path / "in-process"}
    )
    _build(in_process, [folder], HashingEmbedder())
    alone = store.load_index(in_process.resolved_index_dir())
    for term in ("总工会", "正文", "案例"):
        assert loaded.bm25.document_frequency(term) == alone.bm25.document_frequency(term) > 0
        assert loaded.bm25.top(term, 10) == alone.bm25.top(term, 10)


def test_answering_embeds_the_question_and_nothing_else(fake_settings, corpus_dir):
    from answer.service import AnswerService

    embedder = HashingEmbedder()
    _build(fake_settings, [corpus_dir], embedder)
    settings = fake_settings.model_copy(update={"answer_threshold": 0.0})
    searcher = Searcher(open_collection(settings.resolved_index_dir()), embedder, settings)
    service = AnswerService(searcher, settings)
    embedder.embedded.clear()
    for question in ("北京双沟通召开了多少场职工沟通会？", "上海疗休养共计多少人次？"):
        answer = service.answer(question)
        assert not answer.refused and answer.citations
    assert embedder.embedded == []  # no passage or sentence went through the model
