"""Lexical retrieval: jieba tokens scored with BM25 (bm25s), built once at
ingest time and saved as plain .npy/.json files, never rebuilt per query."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bm25s
import jieba
import numpy as np

from index.places import CJK_WORD, organisation_places, pinyin_spellings, spelled_places

# Function words and question words carry no evidence about which passage
# answers; left in, "多少" or "哪些" would pull in any passage with a number.
STOPWORDS = frozenset(
    """
的 了 是 在 和 与 及 或 等 有 对 为 以 于 把 被 将 从 由 这 那 其 之 也 都 就 并 而 个 中 上 下
吗 呢 吧 啊 呀 么 么样 什么 多少 哪些 哪个 哪里 哪 如何 怎么 怎样 怎么样 是否 几 几个 一共 共 总共
请问 请 一下 叫 叫做 称为 名字 名称 能 能够 可以 会 要 想 谁 哪儿 多久 时候 情况 有关 关于 相关
the a an of to in and or is are was what how which who many much
""".split()
)
TOKENIZER_ID = (
    f"jieba-{jieba.__version__}:cut_for_search:lower:stopwords-v2:pinyin-place-aliases-v4"
)
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")


def tokenize(text: str) -> list[str]:
    """Search-mode jieba cut: long words also yield their parts (驿站枫桥 ->
    驿站, 枫桥, 驿站枫桥), so a question matches either form."""
    tokens = jieba.lcut_for_search(text.lower())
    return [t for t in tokens if is_content_word(t)]


def is_content_word(token: str) -> bool:
    """Not punctuation, space or a stop word."""
    return bool(_WORDLIKE.search(token)) and bool(token.strip()) and token not in STOPWORDS


def place_aliases(vocabulary: set[str], organisations: set[str]) -> dict[str, list[str]]:
    """Pinyin spellings of the place names in the corpus ("anhui" -> 安徽), so an
    English question naming a province or city matches its Chinese passages.
    Places are the words of organisation names and vocabulary words jieba's
    dictionary tags as place names (ns)."""
    import jieba.posseg

    tags = jieba.posseg.dt.word_tag_tab
    places = {w for w in vocabulary if tags.get(w) == "ns" and CJK_WORD.match(w)}
    return pinyin_spellings(places | organisation_places(organisations))


def warm_up() -> None:
    """Load what building an index needs (jieba's dictionaries, pypinyin: a few
    seconds) ahead of time, e.g. in a thread while files are still being read."""
    import jieba.posseg
    import pypinyin  # noqa: F401

    jieba.initialize()


class Bm25Index:
    def __init__(self, retriever: bm25s.BM25, aliases: dict[str, list[str]]) -> None:
        self._retriever = retriever
        self.aliases = aliases

    @classmethod
    def build(
        cls,
        texts: list[str],
        k1: float,
        b: float,
        organisations: set[str],
        tokens: list[list[str] | None] | None = None,
    ) -> Bm25Index:
        """`tokens`: each text's `tokenize` result where already known (None
        where not): the build tokenises in its reader processes."""
        known = tokens or [None] * len(texts)
        corpus = [
            t if t is not None else tokenize(text) for text, t in zip(texts, known, strict=True)
        ]
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(corpus, show_progress=False)
        return cls(retriever, place_aliases(set(retriever.vocab_dict), organisations))

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), show_progress=False)
        (directory / "place_aliases.json").write_text(
            json.dumps(self.aliases, ensure_ascii=False, indent=0), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        aliases = json.loads((directory / "place_aliases.json").read_text(encoding="utf-8"))
        return cls(bm25s.BM25.load(str(directory), allow_pickle=False), aliases)

    @property
    def n_docs(self) -> int:
        return int(self._retriever.scores["num_docs"])

    def document_frequency(self, term: str) -> int:
        """How many passages contain `term` (0 when the corpus never uses it)."""
        token_id = self._retriever.vocab_dict.get(term)
        if token_id is None:
            return 0
        indptr = self._retriever.scores["indptr"]
        return int(indptr[token_id + 1] - indptr[token_id])

    def top(self, question: str, n: int, rows: list[int] | None = None) -> list[tuple[int, float]]:
        """(row, score) of the best `n` passages (of `rows`, when given) that
        share a term with the question."""
        tokens = tokenize(question) + spelled_places(question, self.aliases)
        ids = self._retriever.get_tokens_ids(tokens)
        if not ids or rows == []:
            return []
        scores = self._retriever.get_scores(ids)
        if rows is not None:
            kept = np.zeros_like(scores)
            kept[rows] = scores[rows]
            scores = kept
        return [(int(i), float(scores[i])) for i in best_rows(scores, n)]


_SAMPLE = 1024


def best_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """The rows of the `n` highest positive scores, best first (ties: lower row
    first). A large collection is cut first at a score a strided sample puts
    4n rows above, plus three sample strides (about 900 of 200,000 in the
    scale bench): partitioning 200,000 scores took 0.6–1 ms, the cut 0.2."""
    if len(scores) > 16 * _SAMPLE:
        sample = np.sort(scores[:: len(scores) // _SAMPLE])
        above = min(len(sample) - 1, 4 * n * len(sample) // len(scores) + 2)
        cut = max(sample[len(sample) - 1 - above], np.finfo(scores.dtype).tiny)
        rows = np.flatnonzero(scores >= cut)
        if len(rows) < n:  # the sample misjudged: look at every positive score
            rows = np.flatnonzero(scores > 0)
    else:
        rows = np.flatnonzero(scores > 0)
    if len(rows) > n:
        values = scores[rows]
        nth = np.partition(values, len(values) - n)[len(values) - n]
        higher = rows[values > nth]
        rows = np.concatenate([higher, rows[values == nth][: n - len(higher)]])
    return rows[np.lexsort((rows, -scores[rows]))]
