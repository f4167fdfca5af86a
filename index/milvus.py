"""The Milvus backend: passages, vectors and BM25 in Milvus (a Lite file or a
server), behind the Collection and Storage protocols.

An index is three collections, reached through aliases named after the index
directory (data/kb/staff/index -> ghqa_kb_staff_index):

    <base>             one row per passage: its text (jieba-analysed; Milvus's
                       BM25 function fills `sparse`), `dense` vector, and the
                       chunk's fields as scalars (organisation, title, document,
                       source) usable in filters, with the people, places and
                       organisations it names (ingest/entities.py); the build's
                       manifest, place spellings and report are collection
                       properties
    <base>_sentences   one row per sentence: chunk_id, position, vector
    <base>_terms       one row per BM25 term: how many passages contain it
                       (the answerability model's IDF weights; Milvus cannot
                       be asked for a document frequency)

On a Milvus server a build changes only what changed: passages removed from
the corpus are deleted by id, new ones upserted, term counts adjusted, and the
manifest is written last. Otherwise (a full rebuild, another model, or Milvus
Lite, whose BM25 statistics are kept per inserted segment so that in-place
updates would skew its ranking) the build fills a new generation of the three
collections, kept passages' vectors copied from the live one, while questions
are still answered from the old one, then switches the aliases: the same step
upgrades a model in production.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache

import jieba.posseg
import numpy as np

from errors import BackendUnavailable, IndexNotFound, ManifestMismatch
from index.bm25 import tokenize
from index.collection import FILTERABLE, Manifest, Where
from index.milvus_client import Calls, is_lite, literal, scan
from index.places import CJK_WORD, organisation_places, pinyin_spellings, spelled_places
from index.storage import StoredBuild
from index.titles import title_names
from index.vector_cache import STORED, Embedded
from ingest.entities import find_entities
from ingest.records import Chunk
from settings import Settings

MILVUS_FORMAT = 3  # 2: the passage row counts its sentences; 3: and holds its entities
_MANIFEST, _PLACES, _REPORT = "ghqa.manifest", "ghqa.places", "ghqa.report"
_BUILD, _WRITING = "ghqa.build", "ghqa.writing"
_TITLE_NAMES = "ghqa.title_names"
_ANALYZER = {"tokenizer": "jieba", "filter": ["lowercase"]}
_TEXT = 65_535  # VARCHAR limit; a passage is at most a few kB
_TERM = 256  # longer "terms" (a URL, a number run) are not counted
_WRITE_BATCH = 256
_CHUNK_FIELDS = [
    "id",
    "body",
    "document",
    "source",
    "organisation",
    "title",
    "section",
    "ordinal",
    "entities",
]
_COUNTS_CACHE = 4096  # chunks whose sentence count is remembered (a few bytes each)
_DF_CACHE = 50_000
_HNSW_EF = 128  # HNSW search breadth on a server (FLAT ignores it)


def collection_base(settings: Settings) -> str:
    """The alias naming an index directory's collections: its path under the
    data directory, made a Milvus name (letters, digits, underscores)."""
    index_dir = settings.resolved_index_dir().resolve()
    try:
        label = "_".join(index_dir.relative_to(settings.data_dir.resolve()).parts)
    except ValueError:
        label = "dir"
    safe = re.sub(r"[^A-Za-z0-9_]", "_", label)[:80]
    if safe != label or label == "dir":  # '-' and '_' would collide: keep them apart
        safe += "_" + hashlib.sha256(str(index_dir).encode()).hexdigest()[:8]
    return f"{settings.milvus_prefix}_{safe}"


class _Names:
    """The three collections (or aliases) of one index, or of one generation of it."""

    def __init__(self, stem: str) -> None:
        self.chunks = stem
        self.sentences = f"{stem}_sentences"
        self.terms = f"{stem}_terms"

    def all(self) -> tuple[str, str, str]:
        return self.chunks, self.sentences, self.terms


def _expression(where: Where) -> str:
    """A Milvus filter on the passages' scalar fields ("": no filter)."""
    unknown = [name for name, _ in where if name not in FILTERABLE]
    if unknown:
        raise ValueError(f"not a filterable field: {unknown}")
    return " and ".join(f"{name} == {literal(value)}" for name, value in where)


def _row_of(chunk: Chunk) -> dict:
    """The chunk's record as a passage row: its id is the primary key and its
    shown text is `body` (`text` is the analysed index text)."""
    record = chunk.to_json()
    record["id"], record["body"] = record.pop("chunk_id"), record.pop("text")
    if chunk.entities is None:
        record["entities"] = find_entities(chunk.text)
    return record


def _to_chunk(row: Mapping) -> Chunk:
    return Chunk.from_json({**row, "chunk_id": row["id"], "text": row["body"]})


class MilvusCollection:
    def __init__(
        self,
        calls: Calls,
        names: _Names,
        manifest: dict,
        places: dict,
        named: frozenset[str] | None = None,
    ) -> None:
        self._calls = calls
        self._names = names
        self._aliases = places
        self._title_names = named  # None: an index written before they were stored
        self.manifest = Manifest.from_json(manifest)
        self.doc_freq = lru_cache(maxsize=_DF_CACHE)(self._doc_freq)
        self._counts: dict[str, int] = {}  # chunk id -> its number of sentences

    def __len__(self) -> int:
        return self.manifest.chunks

    def search_dense(
        self, vector: np.ndarray, n: int, where: Where = ()
    ) -> list[tuple[str, float]]:
        found = self._do(
            lambda client: client.search(
                self._names.chunks,
                data=[np.asarray(vector, np.float32).tolist()],
                anns_field="dense",
                limit=n,
                filter=_expression(where),
                output_fields=["id"],
                search_params={"metric_type": "IP", "params": {"ef": max(_HNSW_EF, n)}},
            )
        )
        return [(hit["id"], float(hit["distance"])) for hit in found[0]]

    def search_lexical(self, text: str, n: int, where: Where = ()) -> list[tuple[str, float]]:
        # The question's content words (stop words dropped, pinyin place names
        # spelled in Chinese) go to Milvus's own analyser and BM25.
        terms = tokenize(text) + spelled_places(text, self._aliases)
        if not terms:
            return []
        found = self._do(
            lambda client: client.search(
                self._names.chunks,
                data=[" ".join(terms)],
                anns_field="sparse",
                limit=n,
                filter=_expression(where),
                output_fields=["id"],
                search_params={"metric_type": "BM25"},
            )
        )
        # Milvus Lite reports BM25 scores negated (as distances); a server, as is.
        return [(hit["id"], abs(float(hit["distance"]))) for hit in found[0]]

    def get(self, chunk_ids: list[str]) -> list[Chunk]:
        rows = self._rows(chunk_ids, [*_CHUNK_FIELDS, "sentences"])
        for chunk_id, row in rows.items():
            self._remember_count(chunk_id, int(row["sentences"]))
        return [_to_chunk(rows[i]) for i in chunk_ids]

    def similarity(self, vector: np.ndarray, chunk_ids: list[str]) -> list[float]:
        if not chunk_ids:
            return []
        rows = self._rows(chunk_ids, ["id", "dense"])
        return [float(np.asarray(rows[i]["dense"], np.float32) @ vector) for i in chunk_ids]

    def sentence_vectors(self, chunk_id: str) -> np.ndarray:
        # By primary key ("<chunk id>:<position>"): a filter on chunk_id scans.
        count = self._counts.get(chunk_id)
        if count is None:
            (row,) = self._rows([chunk_id], ["id", "sentences"]).values()
            count = self._remember_count(chunk_id, int(row["sentences"]))
        ids = [f"{chunk_id}:{i}" for i in range(count)]
        rows = self._do(
            lambda client: client.get(
                self._names.sentences, ids=ids, output_fields=["position", "vector"]
            )
        )
        rows.sort(key=lambda r: r["position"])
        dim = self.manifest.dim
        return np.asarray([r["vector"] for r in rows], np.float32).reshape(-1, dim)

    def _doc_freq(self, term: str) -> int:
        if not term or len(term.encode()) > _TERM:
            return 0
        rows = self._do(
            lambda client: client.get(self._names.terms, ids=[term], output_fields=["df"])
        )
        return int(rows[0]["df"]) if rows else 0

    def _remember_count(self, chunk_id: str, count: int) -> int:
        if len(self._counts) >= _COUNTS_CACHE:
            self._counts.pop(next(iter(self._counts)))
        self._counts[chunk_id] = count
        return count

    def places(self) -> frozenset[str]:
        return frozenset(p for names in self._aliases.values() for p in names)

    def title_names(self) -> frozenset[str]:
        if self._title_names is None:
            rows = scan(self._calls, self._names.chunks, ["title"])
            self._title_names = title_names({r["title"] for r in rows})
        return self._title_names

    def chunks(self) -> list[Chunk]:
        rows = scan(self._calls, self._names.chunks, _CHUNK_FIELDS)
        return sorted(map(_to_chunk, rows), key=lambda c: (c.source, c.section, c.ordinal))

    def _rows(self, chunk_ids: list[str], fields: list[str]) -> dict[str, Mapping]:
        rows = self._do(
            lambda client: client.get(self._names.chunks, ids=chunk_ids, output_fields=fields)
        )
        return {r["id"]: r for r in rows}

    def _do(self, call):
        """A read; collections a restarted Milvus has released are loaded again."""
        from pymilvus.exceptions import MilvusException

        with self._calls.guarded():
            try:
                return call(self._calls.client)
            except MilvusException as exc:
                if "load" not in str(exc):
                    raise
                for name in self._names.all():
                    self._calls.client.load_collection(name)
                return call(self._calls.client)


class MilvusStorage:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._calls = Calls(settings)
        self._base = collection_base(settings)
        self.names = _Names(self._base)
        self.where = f"Milvus {self._calls.uri} 中的集合 {self._base}"
        self.rebuild_hint = (
            f"GHQA_BACKEND=milvus python -m ingest --index-dir {settings.resolved_index_dir()}"
        )

    # -- reading ----------------------------------------------------------

    def _properties(self) -> dict:
        with self._calls.guarded():
            if not self._calls.client.has_collection(self.names.chunks):
                return {}
            return self._calls.client.describe_collection(self.names.chunks).get("properties", {})

    def read_manifest(self) -> dict:
        hint = self.rebuild_hint
        raw = self._properties().get(_MANIFEST)
        if not raw:
            raise IndexNotFound(f"{self.where} 中还没有索引。请先建索引：{hint}")
        manifest = json.loads(raw)
        if manifest.get("format_version") != MILVUS_FORMAT:
            raise ManifestMismatch(
                f"{self.where} 的索引格式版本是 {manifest.get('format_version')}，"
                f"本程序需要 {MILVUS_FORMAT}。请重新建索引：{hint}"
            )
        return manifest

    def current_build(self) -> str | None:
        # Asked before every question: the build id alone, not the manifest.
        return self._properties().get(_BUILD)

    def open(self) -> MilvusCollection:
        properties = self._properties()
        manifest = self.read_manifest()
        with self._calls.guarded():
            for name in self.names.all():
                self._calls.client.load_collection(name)
        places = json.loads(properties.get(_PLACES, "{}"))
        named = properties.get(_TITLE_NAMES)
        stored = frozenset(json.loads(named)) if named is not None else None
        return MilvusCollection(self._calls, self.names, manifest, places, stored)

    def load_previous(self) -> StoredBuild:
        manifest = self.read_manifest()
        rows = scan(self._calls, self.names.chunks, _CHUNK_FIELDS)
        chunks = sorted(map(_to_chunk, rows), key=lambda c: (c.source, c.section, c.ordinal))
        return StoredBuild(manifest, chunks, {c.id: STORED for c in chunks})

    def read_report(self) -> dict | None:
        raw = self._properties().get(_REPORT)
        return json.loads(raw) if raw else None

    def problem(self) -> str:
        try:
            with self._calls.guarded():
                self._calls.client.list_collections()
        except BackendUnavailable as exc:
            return str(exc)
        return ""

    # -- writing ----------------------------------------------------------

    def write(
        self,
        manifest: dict,
        chunks: list[Chunk],
        embedded: Mapping[str, Embedded],
        terms: Mapping[str, list[str]] | None = None,
    ) -> None:
        # Milvus's analyser tokenises the passages for its own BM25; `terms`
        # only spare re-tokenising them for the document-frequency counts.
        known = terms or {}
        manifest["format_version"] = MILVUS_FORMAT
        manifest["build"] = uuid.uuid4().hex
        manifest["dense"]["kind"] = self._index_type()
        kept = [c.id for c in chunks if embedded[c.id] is STORED]
        if kept and self._in_place():
            self._update(manifest, chunks, embedded, known)
        else:
            copied = self._stored_vectors(kept) if kept else {}
            self._replace(manifest, chunks, {**embedded, **copied}, known)

    def _in_place(self) -> bool:
        if self._settings.milvus_in_place is not None:
            return self._settings.milvus_in_place
        return not is_lite(self._calls.uri)

    def _stored_vectors(self, chunk_ids: list[str]) -> dict[str, Embedded]:
        """Kept passages' vectors, read back from the live index (for a copy)."""
        names, dim = self._physical(), self.read_manifest()["model"]["dim"]
        found: dict[str, Embedded] = {}
        with self._calls.guarded():
            for batch in _batched(chunk_ids, _WRITE_BATCH):
                rows = self._calls.client.get(
                    names.chunks, ids=batch, output_fields=["dense", "sentences"]
                )
                ids = [f"{r['id']}:{i}" for r in rows for i in range(int(r["sentences"]))]
                sentences = self._calls.client.get(
                    names.sentences, ids=ids, output_fields=["chunk_id", "position", "vector"]
                )
                by_chunk: dict[str, list] = {}
                for r in sorted(sentences, key=lambda r: r["position"]):
                    by_chunk.setdefault(r["chunk_id"], []).append(r["vector"])
                for r in rows:
                    vectors = np.asarray(by_chunk.get(r["id"], []), np.float32).reshape(-1, dim)
                    if len(vectors) == int(r["sentences"]):
                        found[r["id"]] = Embedded(np.asarray(r["dense"], np.float32), vectors)
        missing = set(chunk_ids) - set(found)
        if missing:
            raise ManifestMismatch(
                f"{self.where} 缺少 {len(missing)} 个段落的向量（上次写入可能被中断）。"
                f"请重新建索引：{self.rebuild_hint}"
            )
        return found

    def _update(
        self,
        manifest: dict,
        chunks: list[Chunk],
        embedded: Mapping[str, Embedded],
        known: Mapping[str, list[str]],
    ):
        client = self._calls.client
        names = self._physical()
        with self._calls.guarded():
            # Term counts are only trusted when the last write finished.
            recount = _WRITING in self._properties()
            client.alter_collection_properties(names.chunks, properties={_WRITING: "1"})
            stored = {r["id"]: _to_chunk(r) for r in scan(self._calls, names.chunks, _CHUNK_FIELDS)}
            current = {c.id for c in chunks}
            gone = [stored[i] for i in stored if i not in current]
            new = [c for c in chunks if c.id not in stored]
            for batch in _batched([c.id for c in gone], _WRITE_BATCH):
                client.delete(names.chunks, ids=batch)
                ids = ", ".join(literal(i) for i in batch)
                client.delete(names.sentences, filter=f"chunk_id in [{ids}]")
            self._insert(names, new, embedded, manifest["model"]["dim"])
            if recount:
                client.delete(names.terms, filter='term != ""')
                self._count_terms(names, Counter(_terms_of(chunks, known)))
            else:
                delta = Counter(_terms_of(new, known))
                delta.subtract(Counter(_terms_of(gone, known)))
                self._count_terms(names, delta)
            self._finish(names, manifest, chunks)

    def _replace(
        self,
        manifest: dict,
        chunks: list[Chunk],
        embedded: Mapping[str, Embedded],
        known: Mapping[str, list[str]],
    ):
        """A new generation beside the live one; aliases switch when it is complete."""
        client = self._calls.client
        names = _Names(f"{self._base}_g{uuid.uuid4().hex[:8]}")
        old = self._physical() if self._live() else None
        with self._calls.guarded():
            self._drop_unfinished(keep=old.all() if old else ())
            self._create(names, manifest["model"]["dim"])
            self._insert(names, chunks, embedded, manifest["model"]["dim"], fresh=True)
            self._count_terms(names, Counter(_terms_of(chunks, known)))
            self._finish(names, manifest, chunks)
            for alias, target in zip(self.names.all(), names.all(), strict=True):
                if old:
                    client.alter_alias(target, alias)
                else:
                    client.create_alias(target, alias)
            for name in old.all() if old else ():
                client.drop_collection(name)

    def _drop_unfinished(self, keep: tuple[str, ...]) -> None:
        """Generations a killed build left behind (never aliased, never read)."""
        ours = re.compile(re.escape(self._base) + r"_g[0-9a-f]{8}(_sentences|_terms)?")
        for name in self._calls.client.list_collections():
            if ours.fullmatch(name) and name not in keep:
                self._calls.client.drop_collection(name)

    def _finish(self, names: _Names, manifest: dict, chunks: list[Chunk]) -> None:
        """Place spellings and title names, then the manifest: the write is complete."""
        client = self._calls.client
        words = scan(self._calls, names.terms, ["term"], where="place == true")
        places = {w["term"] for w in words}
        places |= organisation_places({c.organisation for c in chunks if c.organisation})
        client.flush(names.chunks)
        client.flush(names.sentences)
        client.flush(names.terms)
        # Stored, not scanned at open: a scan of every title takes about 10 s per
        # 100,000 passages on Milvus Lite.
        named = sorted(title_names({c.title for c in chunks}))
        properties = {
            _PLACES: json.dumps(pinyin_spellings(places), ensure_ascii=False),
            _TITLE_NAMES: json.dumps(named, ensure_ascii=False),
            _MANIFEST: json.dumps(manifest, ensure_ascii=False),
            _BUILD: manifest["build"],
        }
        client.alter_collection_properties(names.chunks, properties=properties)
        client.drop_collection_properties(names.chunks, property_keys=[_WRITING])

    def _create(self, names: _Names, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self._calls.client
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field(
            "text",
            DataType.VARCHAR,
            max_length=_TEXT,
            enable_analyzer=True,
            analyzer_params=_ANALYZER,
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("body", DataType.VARCHAR, max_length=_TEXT)
        for name in ("document", "source", "organisation", "title"):
            schema.add_field(name, DataType.VARCHAR, max_length=_TEXT)
        schema.add_field("section", DataType.INT64)
        schema.add_field("ordinal", DataType.INT64)
        schema.add_field("sentences", DataType.INT64)
        schema.add_field("entities", DataType.VARCHAR, max_length=_TEXT)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index("dense", **self._dense_index())
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": self._settings.bm25_k1, "bm25_b": self._settings.bm25_b},
        )
        client.create_collection(
            names.chunks, schema=schema, index_params=index, consistency_level="Strong"
        )

        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=80)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=64)
        schema.add_field("position", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        index.add_index("chunk_id", index_type="INVERTED")
        client.create_collection(
            names.sentences, schema=schema, index_params=index, consistency_level="Strong"
        )

        # Milvus wants a vector field in every collection; this one is never searched.
        schema = client.create_schema(auto_id=False)
        schema.add_field("term", DataType.VARCHAR, is_primary=True, max_length=_TERM)
        schema.add_field("df", DataType.INT64)
        schema.add_field("place", DataType.BOOL)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
        index = client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="IP")
        client.create_collection(
            names.terms, schema=schema, index_params=index, consistency_level="Strong"
        )

    def _insert(
        self,
        names: _Names,
        chunks: list[Chunk],
        embedded: Mapping[str, Embedded],
        dim: int,
        fresh: bool = False,
    ) -> None:
        """`fresh`: the collections are new, so rows are inserted (faster)
        rather than upserted (which also replaces half-written rows)."""
        client = self._calls.client
        write = client.insert if fresh else client.upsert
        for batch in _batched(chunks, _WRITE_BATCH):
            rows, sentences = [], []
            for c in batch:
                vectors = embedded[c.id]
                stacked = np.asarray(vectors.sentences, np.float32).reshape(-1, dim)
                rows.append(
                    {
                        **_row_of(c),
                        "text": c.index_text,
                        "dense": np.asarray(vectors.vector, np.float32).tolist(),
                        "sentences": len(stacked),
                    }
                )
                for i, v in enumerate(stacked):
                    sentences.append(
                        {"id": f"{c.id}:{i}", "chunk_id": c.id, "position": i, "vector": v.tolist()}
                    )
            write(names.chunks, rows)
            for part in _batched(sentences, _WRITE_BATCH * 4):
                write(names.sentences, part)

    def _count_terms(self, names: _Names, delta: Counter) -> None:
        """Add `delta` to the stored counts; terms no passage uses any more go."""
        client = self._calls.client
        tags = jieba.posseg.dt.word_tag_tab
        for batch in _batched([t for t, d in delta.items() if d], 1000):
            stored = client.get(names.terms, ids=batch, output_fields=["df"])
            counts = {r["term"]: int(r["df"]) for r in stored}
            keep, drop = [], []
            for term in batch:
                df = counts.get(term, 0) + delta[term]
                if df > 0:
                    place = tags.get(term) == "ns" and bool(CJK_WORD.match(term))
                    keep.append({"term": term, "df": df, "place": place, "unused": [0.0, 0.0]})
                elif term in counts:
                    drop.append(term)
            if keep:
                client.upsert(names.terms, keep)
            if drop:
                client.delete(names.terms, ids=drop)

    def _live(self) -> bool:
        with self._calls.guarded():
            return self._calls.client.has_collection(self.names.chunks)

    def _physical(self) -> _Names:
        """The generation the aliases point at now (writes go to it by name)."""
        with self._calls.guarded():
            target = self._calls.client.describe_alias(self.names.chunks)["collection_name"]
        return _Names(target)

    def _index_type(self) -> str:
        return self._dense_index()["index_type"]

    def _dense_index(self) -> dict:
        # Lite searches exactly; a server gets HNSW, searched with ef >= the
        # candidates asked for (its recall could not be measured here: run
        # `python -m eval.bench --backend milvus` against the server).
        if is_lite(self._calls.uri):
            return {"index_type": "FLAT", "metric_type": "IP"}
        return {
            "index_type": "HNSW",
            "metric_type": "IP",
            "params": {"M": 16, "efConstruction": 200},
        }

    def remove(self) -> None:
        if not self._live():
            return
        names = self._physical()
        with self._calls.guarded():
            for alias in self.names.all():
                self._calls.client.drop_alias(alias)
            for name in names.all():
                self._calls.client.drop_collection(name)

    def write_report(self, report: dict) -> None:
        if not self._live():
            return  # no index to report on (its last document was removed)
        with self._calls.guarded():
            self._calls.client.alter_collection_properties(
                self._physical().chunks,
                properties={_REPORT: json.dumps(report, ensure_ascii=False)},
            )


def _terms_of(chunks: Iterable[Chunk], known: Mapping[str, list[str]]) -> Iterator[str]:
    """Each passage's distinct BM25 terms (a term's count is its document
    frequency), from `known` where the build already tokenised the passage."""
    for chunk in chunks:
        tokens = known.get(chunk.id)
        if tokens is None:
            tokens = tokenize(chunk.index_text)
        yield from {t for t in tokens if len(t.encode()) <= _TERM}


def _batched(items: list, n: int) -> Iterator[list]:
    for start in range(0, len(items), n):
        yield items[start : start + n]
