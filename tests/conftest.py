from __future__ import annotations

import os
from pathlib import Path

# Tests never reach a model hub: huggingface_hub reads this at import time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest

from index.build import update_index
from index.embedder import load_embedder
from index.local import open_collection
from index.searcher import Searcher
from ingest.loaders import load_document
from ingest.profile import profile_for
from ingest.structure import split_sections
from settings import PROJECT_ROOT, SHIPPED_CORPUS, Settings
from tests.fakes import HashingEmbedder

CORPUS_FILE = SHIPPED_CORPUS / "acftu_innovation_cases_2024.txt"


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", model="fake-hashing-embedder")


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def corpus_sections():
    doc = load_document(CORPUS_FILE)
    return split_sections(doc, profile_for(doc.sha256))


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory) -> Settings:
    # The converted default model is shared with the install step's copy, so
    # the suite converts it at most once; everything else is per-session.
    return Settings(
        data_dir=tmp_path_factory.mktemp("real"),
        model_cache_dir=PROJECT_ROOT / "data" / "models",
    )


@pytest.fixture(scope="session")
def real_embedder(real_settings):
    return load_embedder(real_settings)


@pytest.fixture(scope="session")
def real_searcher(real_settings, real_embedder) -> Searcher:
    update_index(real_settings, [SHIPPED_CORPUS], embedder=real_embedder, progress=False)
    return Searcher(
        open_collection(real_settings.resolved_index_dir()), real_embedder, real_settings
    )
