"""The people, places and organisations a passage names, found once when the
passage is made.

A question asking "谁" or "哪里" is answered with one of these; finding them
takes jieba's part-of-speech tagger about 2 ms per passage, 5–10 ms for the
five passages the reader reads. Done at ingest (in the worker processes, beside
chunking), the question path only reads them back from the chunk record.

    find_entities("保罗·皮尔斯出生于美国加利福尼亚州") -> "p0:6 s9:8"
    find_entities("龙岩市总工会在新罗区设立驿站")     -> "s0:3 O0:6 s7:3"
    find_entities("由保罗·塞里诺提出")               -> "p1:6"
    (kind, start, length; the kinds are in KINDS)

Tagging the whole passage gives every sentence and clause the same words as
tagging it alone: jieba cuts text into blocks at punctuation and spaces first,
and sentences and clauses end at punctuation. A change to what is found bumps
ingest.PIPELINE_VERSION, so that older chunks are remade on the next ingest.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from typing import NamedTuple

# code -> (answer type, how well the span fits that type)
KINDS = {
    "p": ("person", 1.0),  # jieba nr
    "s": ("place", 1.0),  # jieba ns
    "o": ("organisation", 1.0),  # jieba nt
    "O": ("organisation", 0.8),  # a run of nouns ending in 公司, 大学, 委员会 …
}
_FLAG_KIND = {"nr": "p", "ns": "s", "nt": "o"}
ORG_SUFFIX = re.compile(
    r"(?:公司|集团|大学|学院|学校|中学|协会|学会|委员会|总工会|工会|联合会|银行|医院|研究所|研究院|"
    r"中心|俱乐部|政府|部|局|厅|署|队|社|党|基金会|电视台|报社|出版社)$"
)
NAME_DOTS = "·•・"  # the dots between the parts of a foreign name
# A single character after a place that makes it a smaller place: 大溪 + 区.
_PLACE_SUFFIXES = frozenset("省市县区镇乡村州郡岛街路")
# Tags jieba gives the last character of a three-character name it does not
# know, after a family name and a first character it tags nr (袁/丽/嫦 n,
# 伍/宗/德 ns, 鲍/荣/茂 a, 李/灵/曜 zg); function words (的, 在, 及) never end one.
_NAME_END_FLAGS = frozenset({"n", "ns", "ng", "a", "zg"})
# A character is a transliteration character when jieba's dictionary uses it in
# at least this many transliterated names (tag nrt): 尔 斯 拉 克 … but not 和 在.
_TRANSLITERATION_USES = 5


class Entity(NamedTuple):
    kind: str  # a key of KINDS
    start: int
    text: str


def tag_entities(text: str) -> list[Entity]:
    """Runs of words jieba's dictionary tags nr/ns/nt, merged ("保罗·皮尔斯" is
    one across its dot), and nominal runs ending in an organisation suffix.
    Without jieba's HMM: it guesses unknown names at ten times the cost, and
    the reader's gap option finds them (answer/align.py)."""
    import jieba.posseg

    found: list[Entity] = []
    position = 0
    run_kind, run_start, run, pieces = "", 0, "", 0
    nominal_start, nominal = 0, ""
    pairs = jieba.posseg.lcut(text, HMM=False)
    place_tail_end = 0  # words before this index continue the place run
    for i, pair in enumerate(pairs):
        word, flag = pair.word, pair.flag
        kind = _FLAG_KIND.get(flag[:2], "")
        if run_kind == "s" and i >= place_tail_end:
            place_tail_end = _transliterated_place_end(pairs, i)
        if (
            (kind and kind == run_kind)
            or (run and word in NAME_DOTS)
            or (run_kind == "s" and word in _PLACE_SUFFIXES)
            or (run_kind == "s" and _bridges_places(word, flag, pairs[i + 1 : i + 2]))
            or (run_kind == "s" and i < place_tail_end)
            or (run_kind == "p" and _ends_name(run, pieces, word, flag))
        ):
            run += word
            pieces += 1
        else:
            if run:
                found.append(Entity(run_kind, run_start, run))
            run_kind, run_start, run = (kind, position, word) if kind else ("", 0, "")
            pieces = 1
        if flag.startswith(("n", "j")) or re.fullmatch(r"[A-Za-z0-9]+", word):
            nominal_start, nominal = (
                (nominal_start, nominal + word) if nominal else (position, word)
            )
            if ORG_SUFFIX.search(nominal) and len(nominal) > 2:
                found.append(Entity("O", nominal_start, nominal))
        else:
            nominal = ""
        position += len(word)
    if run:
        found.append(Entity(run_kind, run_start, run))
    found = [e for e in found if len(e.text.strip(NAME_DOTS)) >= 2]
    if not any(dot in text for dot in NAME_DOTS):
        return found  # most passages: no dotted name to look for
    return _with_dotted_names(found, [(p.word, p.flag) for p in pairs])


def _ends_name(run: str, pieces: int, word: str, flag: str) -> bool:
    """The third character of a Chinese name the dictionary does not know, after
    the two it tagged as a name one by one: 袁/丽 + 嫦, 伍/宗 + 德."""
    return (
        pieces == 2
        and len(run) == 2
        and len(word) == 1
        and "\u4e00" <= word <= "\u9fff"
        and flag in _NAME_END_FLAGS
        and word not in _PLACE_SUFFIXES
    )


def _transliterated(word: str) -> bool:
    """Every character is a transliteration character (斯诺, 瓦尔)."""
    return all(ch in _transliteration() for ch in word)


def _transliterated_place_end(pairs: list, i: int) -> int:
    """Where a transliterated place name after a place ends, when it ends in a
    place suffix the dictionary cut off: 加州 + 费/雷/斯诺 + 县 (Fresno County),
    法国 + 瓦尔 + 省. 0 when the words from `i` on are not one."""
    j = i
    while (
        j < len(pairs) and pairs[j].word not in _PLACE_SUFFIXES and _transliterated(pairs[j].word)
    ):
        j += 1
    name = "".join(p.word for p in pairs[i:j])
    if len(name) >= 2 and j < len(pairs) and pairs[j].word in _PLACE_SUFFIXES:
        return j + 1
    return 0


def _bridges_places(word: str, flag: str, following: list) -> bool:
    """One character between two places that is the first of the second one,
    which the dictionary cut off: 宜兰县 + 头 + 城镇 (头城镇), 美国 + 明 + 尼亚波利斯.
    A whole word between them is a word of its own (欧洲 + 文化 + 城市)."""
    return (
        len(word) == 1
        and flag.startswith(("n", "a", "j"))
        and not flag.startswith(("nr", "nt"))
        and bool(following)
        and following[0].flag.startswith("ns")
        and len(following[0].word) >= 2
    )


def _with_dotted_names(found: list[Entity], words: list[tuple[str, str]]) -> list[Entity]:
    """Foreign names written with a middle dot ("马克·拉瓦卢马纳纳"), whole. The
    dictionary knows few of them, and cuts the rest into pieces tagged anything
    (拉瓦/卢/马/纳/纳): the name is the run of name-like words either side of
    the dots. People and places found overlapping it are dropped: pieces of it,
    or a title run into it (王公瓦西里·谢苗诺维奇)."""
    names = []
    starts = [0]
    for word, _ in words:
        starts.append(starts[-1] + len(word))
    i = 0
    while i < len(words):
        if words[i][0] not in NAME_DOTS:
            i += 1
            continue
        first = i
        while first > 0 and _name_like(*words[first - 1], away_from_dot=first < i):
            first -= 1
        last = i
        # Through every further piece and dot: "安德里·尼里纳·拉乔利纳".
        while last + 1 < len(words) and (
            _name_like(*words[last + 1])
            or (words[last + 1][0] in NAME_DOTS and words[last][0] not in NAME_DOTS)
        ):
            last += 1
        if first < i and last > i and words[last][0] not in NAME_DOTS:
            text = "".join(w for w, _ in words[first : last + 1])
            names.append(Entity("p", starts[first], text))
        i = last + 1
    if not names:
        return found
    spans = [(n.start, n.start + len(n.text)) for n in names]
    kept = [
        e
        for e in found
        if e.kind not in ("p", "s")
        or not any(e.start < b and a < e.start + len(e.text) for a, b in spans)
    ]
    return sorted(kept + names, key=lambda e: e.start)


def _name_like(word: str, flag: str, away_from_dot: bool = False) -> bool:
    """A piece of a transliterated name: one made of transliteration characters
    only, or a word jieba tags as a name. `away_from_dot`: a word before the one
    next to the first dot, which counts as tagged only when tagged transliterated
    (nrt): jieba tags titles nr too (王公 in 王公瓦西里·谢苗诺维奇)."""
    if word in NAME_DOTS or not re.fullmatch(r"[\u4e00-\u9fff]+", word):
        return False
    tagged = flag == "nrt" if away_from_dot else flag.startswith("nr")
    return tagged or _transliterated(word)


@cache
def _transliteration() -> frozenset[str]:
    """The characters of transliterated names, counted in the tag table jieba's
    tagger has already loaded (as index/bm25.py reads place tags from it)."""
    import jieba.posseg

    uses: Counter[str] = Counter()
    for word, flag in jieba.posseg.dt.word_tag_tab.items():
        if flag == "nrt":
            uses.update(word)
    return frozenset(ch for ch, n in uses.items() if n >= _TRANSLITERATION_USES)


def find_entities(text: str) -> str:
    """The passage's entities in the compact form stored with the chunk."""
    return " ".join(f"{e.kind}{e.start}:{len(e.text)}" for e in tag_entities(text))


def read_entities(stored: str, text: str) -> list[Entity]:
    """The entities of `find_entities(text)`'s output, with their text."""
    found = []
    for item in stored.split():
        start, length = map(int, item[1:].split(":"))
        found.append(Entity(item[0], start, text[start : start + length]))
    return found
