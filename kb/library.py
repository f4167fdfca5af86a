"""Every knowledge base's AnswerService, served by one model instance.

A knowledge base's service is opened on its first question and reopened when
its index is rebuilt (an upload on the admin page swaps in a new build); the
embedding model is loaded once and shared by all of them.
"""

from __future__ import annotations

import threading

from answer.llm import ChatClient
from answer.service import AnswerService
from errors import BackendUnavailable, IndexNotFound, ManifestMismatch
from index.collection import Manifest
from index.embedder import Embedder, load_embedder
from index.searcher import Searcher
from index.storage import Storage, check_model, storage_for
from kb.registry import Registry
from settings import Settings


class Library:
    def __init__(
        self,
        registry: Registry,
        embedder: Embedder | None = None,
        llm: ChatClient | None = None,
    ) -> None:
        self.registry = registry
        self.settings: Settings = registry.settings
        self.llm = llm
        self._embedder = embedder
        self._open: dict[str, tuple[str, AnswerService]] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> Library:
        return cls(Registry(settings), llm=ChatClient.configured(settings))

    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings)
            return self._embedder

    def service(self, kb: str) -> AnswerService:
        """Raises IndexNotFound (no documents yet) or ManifestMismatch."""
        build = self._current_build(kb)
        opened = self._open.get(kb)
        if opened and opened[0] == build:
            return opened[1]
        settings = self.registry.settings_for(kb)
        searcher = Searcher.open(settings, self.embedder(), self._named_storage(kb))
        service = AnswerService(searcher, settings, self.llm)
        with self._lock:
            self._open[kb] = (build, service)
        return service

    def manifest(self, kb: str) -> Manifest:
        """The knowledge base's current build, read without loading it (a health
        check or an admin listing must not open every index); raises as
        `service` does."""
        build = self._current_build(kb)
        opened = self._open.get(kb)
        if opened and opened[0] == build:
            return opened[1].searcher.collection.manifest
        storage = self._named_storage(kb)
        data = storage.read_manifest()
        check_model(data, storage, self.settings.model)
        return Manifest.from_json(data)

    def storage(self, kb: str) -> Storage:
        return storage_for(self.registry.settings_for(kb))

    def _named_storage(self, kb: str) -> Storage:
        """The storage, for reading an index whose messages reach chat users. One
        managed on the admin page is named by its title and rebuilt there: no
        server path, no command for a folder of hashed files. Only when an index
        is opened or checked, not on every question (it reads the registry)."""
        storage = self.storage(kb)
        knowledge_base = self.registry.get(kb)
        if knowledge_base.managed:
            storage.where = f"知识库“{knowledge_base.title}”"
            storage.rebuild_hint = "管理员可在管理页 /admin 中选中它，点“更新索引”"
        return storage

    def _current_build(self, kb: str) -> str:
        storage = self.storage(kb)
        build = storage.current_build()
        if build is not None:
            return build
        knowledge_base = self.registry.get(kb)
        if not knowledge_base.managed:
            storage.read_manifest()  # raises, saying what to run
        raise IndexNotFound(
            f"知识库“{knowledge_base.title}”还没有文档：请管理员在 /admin 上传，"
            f"或运行 python -m ingest 文件或目录 --kb {kb}"
        )

    def forget(self, kb: str) -> None:
        """Close a deleted knowledge base's service."""
        with self._lock:
            self._open.pop(kb, None)

    def problem(self, kb: str) -> str:
        """Why the knowledge base cannot answer now, or "" when it can."""
        try:
            self.service(kb)
        except (IndexNotFound, ManifestMismatch, BackendUnavailable) as exc:
            return str(exc)
        return ""
