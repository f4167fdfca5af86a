"""Lexical retrieval: jieba tokens scored with BM25 (bm25s), built once at
ingest time and saved as plain .npy/.json files, never rebuilt per query."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import bm25s
import jieba
import numpy as np

# Function words and question words carry no evidence about which passage
# answers; left in, "多少" or "哪些" would pull in any passage with a number.
_STOPWORDS_TEXT = """
的 了 是 在 和 与 及 或 等 有 对 为 以 于 把 被 将 从 由 这 那 其 之 也 都 就 并 而 个 中 上 下
吗 呢 吧 啊 呀 么 么样 什么 多少 哪些 哪个 哪里 哪 如何 怎么 怎样 怎么样 是否 几 几个 一共 共 总共
请问 请 一下 the a an of to in and or is are was what how which who many much
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
TOKENIZER_ID = (
    f"jieba-{jieba.__version__}:cut_for_search:lower:stopwords-v1:pinyin-place-aliases-v2"
)
# Official romanisations that plain pinyin gets wrong (陕西 would read "shanxi",
# which is 山西).
OFFICIAL_SPELLINGS = {"陕西": "shaanxi"}
_GENERIC_ORG_WORDS = frozenset(
    ["总工会", "工会", "委员会", "联合会", "自治区", "维吾尔", "回族", "壮族"]
)
_CJK_WORD = re.compile(r"^[\u3400-\u9fff]{2,4}$")
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")


def tokenize(text: str) -> list[str]:
    """Search-mode jieba cut: long words also yield their parts (驿站枫桥 ->
    驿站, 枫桥, 驿站枫桥), so a question matches either form."""
    jieba.setLogLevel(logging.WARNING)
    tokens = jieba.lcut_for_search(text.lower())
    return [t for t in tokens if _WORDLIKE.search(t) and t.strip() and t not in STOPWORDS]


def place_aliases(vocabulary: set[str], organisations: set[str]) -> dict[str, list[str]]:
    """Pinyin spellings of the place names in the corpus ("anhui" -> 安徽), so an
    English question naming a province or city matches its Chinese passages.
    Places are the words of organisation names ('福建龙岩市总工会' -> 福建, 龙岩)
    and vocabulary words jieba's dictionary tags as place names (ns)."""
    import jieba.posseg
    from pypinyin import lazy_pinyin

    tags = jieba.posseg.dt.word_tag_tab
    places = {w for w in vocabulary if tags.get(w) == "ns"}
    for org in organisations:
        for word in jieba.lcut(org):
            if word not in _GENERIC_ORG_WORDS:
                # '龙岩市' is asked about as 'Longyan' as often as 'Longyan City'
                places |= {word, word[:-1]} if word[-1] in "省市县区" else {word}
    aliases: dict[str, list[str]] = {}
    for word in sorted(w for w in places if _CJK_WORD.match(w)):
        spellings = {"".join(lazy_pinyin(word)), OFFICIAL_SPELLINGS.get(word, "")}
        for spelling in spellings - {""}:
            aliases.setdefault(spelling, []).append(word)
    return aliases


class Bm25Index:
    def __init__(self, retriever: bm25s.BM25, aliases: dict[str, list[str]]) -> None:
        self._retriever = retriever
        self.aliases = aliases

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float, organisations: set[str]) -> Bm25Index:
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index([tokenize(t) for t in texts], show_progress=False)
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

    def places_in(self, question: str) -> list[str]:
        """Chinese names of the places a question spells in pinyin/English."""
        words = re.findall(r"[a-z]+", question.lower())
        return [place for w in words for place in self.aliases.get(w, [])]

    def top(self, question: str, n: int) -> list[tuple[int, float]]:
        """(row, score) of the best `n` passages that share a term with the question."""
        tokens = tokenize(question) + self.places_in(question)
        ids = self._retriever.get_tokens_ids(tokens)
        if not ids:
            return []
        scores = self._retriever.get_scores(ids)
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best if scores[i] > 0]
