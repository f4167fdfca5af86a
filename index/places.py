"""Place names: which ones the corpus's organisations carry and how they are
spelled in pinyin ("Anhui" -> 安徽). There is no fixed list of places: they
come from the documents (organisation names, words jieba tags as places)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import jieba

# Official romanisations that plain pinyin gets wrong (陕西 would read "shanxi",
# which is 山西).
OFFICIAL_SPELLINGS = {"陕西": "shaanxi"}
_GENERIC_ORG_WORDS = frozenset(
    ["总工会", "工会", "委员会", "联合会", "自治区", "维吾尔", "回族", "壮族"]
)
CJK_WORD = re.compile(r"^[\u3400-\u9fff]{2,5}$")  # a place-name-sized Chinese word


def organisation_places(organisations: Iterable[str]) -> set[str]:
    """'福建龙岩市总工会' -> {福建, 龙岩市, 龙岩}: the places in organisation names,
    with and without their 省/市 suffix, since users ask both ways."""
    places: set[str] = set()
    for org in organisations:
        for word in jieba.lcut(org):
            if word in _GENERIC_ORG_WORDS or not CJK_WORD.match(word):
                continue
            places.add(word)
            if word[-1] in "省市县区" and len(word) > 2:
                places.add(word[:-1])
    return places


def pinyin_spellings(places: Iterable[str]) -> dict[str, list[str]]:
    """{'anhui': ['安徽'], 'shaanxi': ['陕西'], ...} for the given Chinese names."""
    from pypinyin import lazy_pinyin

    spellings: dict[str, list[str]] = {}
    for place in sorted(set(places)):
        for spelling in {"".join(lazy_pinyin(place)), OFFICIAL_SPELLINGS.get(place, "")} - {""}:
            spellings.setdefault(spelling, []).append(place)
    return spellings


def spelled_places(text: str, spellings: dict[str, list[str]]) -> list[str]:
    """Chinese names of the places a text spells in pinyin/English."""
    return [p for word in re.findall(r"[a-z]+", text.lower()) for p in spellings.get(word, ())]


@cache
def dictionary_spellings() -> dict[str, list[str]]:
    """Pinyin spellings of the words jieba's dictionary tags as places (two to
    four characters), each to its most frequent word ("shanghai" -> 上海, not
    商海): "Shanghai" in an English question names 上海 even when no document
    does, as jieba's place tag finds it in a Chinese one. About 15,000
    spellings, computed once (0.6 s), the first time a question needs them."""
    import jieba.posseg

    tags = jieba.posseg.dt.word_tag_tab
    places = [w for w, flag in tags.items() if flag == "ns" and 2 <= len(w) <= 4]
    jieba.dt.check_initialized()  # loads the word frequencies
    frequency = jieba.dt.FREQ
    return {
        spelling: [max(words, key=lambda w: frequency.get(w, 0))]
        for spelling, words in pinyin_spellings(places).items()
    }
