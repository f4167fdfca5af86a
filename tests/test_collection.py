"""The Collection and Storage contract: what every backend must do, so that
the layers above index/ can use any of them. Parametrised by backend: the
local FAISS + bm25s one and Milvus (Milvus Lite, a real embedded Milvus); a
new backend joins the BACKENDS list."""

import numpy as np
import pytest

from index.build import update_index
from index.collection import Manifest
from index.storage import storage_for
from ingest.sentences import split_sentences
from settings import SHIPPED_CORPUS, Settings
from tests.fakes import HashingEmbedder

EMBEDDER = HashingEmbedder()


BACKENDS = ["local", "milvus"]


def backend_settings(root, backend: str) -> Settings:
    return Settings(data_dir=root, model="fake-hashing-embedder", backend=backend)


@pytest.fixture(scope="module", params=BACKENDS)
def collection(request, tmp_path_factory):
    settings = backend_settings(tmp_path_factory.mktemp("collection"), request.param)
    update_index(settings, [SHIPPED_CORPUS], embedder=EMBEDDER, progress=False)
    return storage_for(settings).open()


def test_manifest_and_size(collection):
    manifest = collection.manifest
    assert isinstance(manifest, Manifest)
    assert len(collection) == manifest.chunks == len(collection.chunks()) == 36
    assert manifest.cases == 15 and manifest.model_id == "fake-hashing-embedder"
    assert [f.name for f in manifest.files] == ["acftu_innovation_cases_2024.txt"]
    assert manifest.to_json()["files"] == 1 and manifest.created


def test_chunks_have_unique_ids_and_get_returns_them_in_the_order_asked(collection):
    chunks = collection.chunks()
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)
    picked = [ids[5], ids[0], ids[20]]
    assert [c.id for c in collection.get(picked)] == picked
    with pytest.raises(KeyError):
        collection.get(["no-such-chunk"])


def test_dense_search_is_cosine_best_first(collection):
    chunk = collection.chunks()[7]
    vector = EMBEDDER.embed_passages([chunk.index_text])[0]
    found = collection.search_dense(vector, 5)
    assert found[0][0] == chunk.id and found[0][1] == pytest.approx(1.0, abs=1e-4)
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True) and len(found) == 5
    ids = [cid for cid, _ in found]
    assert collection.similarity(vector, ids) == pytest.approx(scores, abs=1e-4)


def test_lexical_search_matches_terms(collection):
    found = collection.search_lexical("37885场职工沟通会", 3)
    assert "37885" in collection.get([found[0][0]])[0].text
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert collection.search_lexical("qwertyuiop", 3) == []


def test_sentence_vectors_are_stored_per_sentence(collection):
    chunk = collection.chunks()[3]
    vectors = collection.sentence_vectors(chunk.id)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(split_sentences(chunk.text)), collection.manifest.dim)


def test_document_frequencies_and_places(collection):
    assert 0 < collection.doc_freq("工会") <= len(collection)
    assert collection.doc_freq("qwertyuiop") == 0
    assert {"北京", "江苏", "龙岩"} <= collection.places()


def test_searches_can_be_limited_to_a_field_value(collection):
    """Metadata filters: the same answer from every backend, exact (a dense
    filter over an approximate index must not miss the few matching passages)."""
    chunks = collection.chunks()
    longyan = next(c for c in chunks if "龙岩" in c.organisation)
    where = (("organisation", longyan.organisation),)
    vector = EMBEDDER.embed_passages(["北京职工沟通会"])[0]
    dense = collection.get([cid for cid, _ in collection.search_dense(vector, 50, where)])
    assert dense and {c.organisation for c in dense} == {longyan.organisation}
    assert len(dense) == sum(c.organisation == longyan.organisation for c in chunks)
    lexical = collection.get([cid for cid, _ in collection.search_lexical("工会 调解", 50, where)])
    assert lexical and {c.organisation for c in lexical} == {longyan.organisation}
    # Filters combine; a value nobody has finds nothing.
    both = (*where, ("document", longyan.document))
    assert collection.search_dense(vector, 5, both)
    assert collection.search_dense(vector, 5, (("organisation", "没有这个单位"),)) == []
    assert collection.search_lexical("工会", 5, (("title", "没有这个标题"),)) == []
