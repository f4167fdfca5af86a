"""A question that asks two things, as its parts.

    "江苏康乃馨服务站有多少家？川工之家日活多少？"
        -> "江苏康乃馨服务站有多少家？", "川工之家日活多少？"
    "河北和陕西在宣传培养工匠方面各有什么做法？"
        -> "河北在宣传培养工匠方面有什么做法？", "陕西在宣传培养工匠方面有什么做法？"

Each part is searched, read and judged on its own: the passage that answers one
part seldom answers the other, and a reader that picks one best sentence would
answer only half. Two rules, from jieba's tags and no fitted number:

- questions in a row ("…？…？") are parts when each names its own subject
  before it asks; "有几个分会？分别在哪些地方？" leans on the first and stays whole;
- a distributive 各 / 各自 / 分别 after a coordination ("A和B…各…") asks the
  rest of the question once per conjunct.
"""

from __future__ import annotations

import re

from answer.question import ASKING, tagged

MAX_PARTS = 4  # more "parts" than this is a list, not several questions
_ENDS = re.compile(r"(?<=[？?；;])")
_JOINS = frozenset({"和", "与", "及", "以及", "、"})
_EACH = frozenset({"各", "各自", "分别"})
# Words that end a conjunct: what follows a noun phrase in a question.
_STOP_FLAGS = ("x", "p", "d", "r", "uj", "ul", "u", "y", "c")
_VERBS_AFTER = frozenset({"是", "有", "为", "在"})
# A question that opens with one of these leans on the one before it.
_LEANING = re.compile(r"^(?:分别|各|其|它|他|她|那|这|又|还|并|该|此|共|总共|一共|另外)")
_NOMINAL = ("n", "nr", "ns", "nt", "nz", "j", "eng")


def split_question(question: str) -> list[str]:
    """The question's parts, or the question alone when it asks one thing."""
    parts = [p for s in _sentences(question) for p in _per_conjunct(s)]
    return parts if 1 < len(parts) <= MAX_PARTS else [question]


def _sentences(question: str) -> list[str]:
    pieces = [p.strip() for p in _ENDS.split(question.strip()) if p.strip(" ？?；;")]
    joined: list[str] = []
    for piece in pieces:
        if joined and not _stands_alone(piece):
            joined[-1] += piece
        else:
            joined.append(piece)
    if len(joined) > 1 and not ASKING.search(joined[0]):  # "你好？…": a greeting, not a part
        joined[:2] = [joined[0] + joined[1]]
    return joined


def _stands_alone(piece: str) -> bool:
    """The piece asks, and names a subject of its own before it asks."""
    if _LEANING.match(piece) or not ASKING.search(piece):
        return False
    named = 0
    for word, flag in tagged(piece):
        if ASKING.search(word):
            break
        if flag.startswith(_NOMINAL) or re.fullmatch(r"[A-Za-z0-9]+", word):
            named += len(word)
    return named >= 2


def _per_conjunct(sentence: str) -> list[str]:
    """ "A和B…各X" -> "A…X", "B…X"; the sentence alone without that shape."""
    pairs = tagged(sentence)
    words, flags = [w for w, _ in pairs], [f for _, f in pairs]
    each = next(
        (i for i, w in enumerate(words) if w in _EACH and (i == 0 or words[i - 1] != "的")),
        None,
    )
    if each is None:
        return [sentence]
    joins = [i for i in range(each) if words[i] in _JOINS]
    if not joins:
        return [sentence]
    conjuncts = _conjuncts(words, flags, joins[-1], each)
    if conjuncts is None:
        return [sentence]
    start, end, phrases = conjuncts
    rest = words[:each] + words[each + 1 :]  # the distributive word goes
    before, after = "".join(rest[:start]), "".join(rest[end:])
    return [before + phrase + after for phrase in phrases]


def _conjuncts(
    words: list[str], flags: list[str], join: int, each: int
) -> tuple[int, int, list[str]] | None:
    """Where the coordination starts and ends (word indices) and its conjuncts,
    the last joined at `join`. Two shapes: "北京的沟通会和安徽的招聘会" (each
    conjunct has its own 的), and "男子和女子的年收入" (the 的 part is shared)."""
    right_end = _run_end(words, flags, join + 1)
    if right_end == join + 1:
        return None
    starts = [join]
    left_start = _run_start(words, flags, join)
    # Earlier conjuncts: "A、B和C".
    while left_start > 0 and words[left_start - 1] in _JOINS:
        starts.insert(0, left_start - 1)
        left_start = _run_start(words, flags, left_start - 1)
    if left_start == starts[0]:
        return None
    bounds = [left_start, *(s + 1 for s in starts)]
    ends = [*starts, right_end]
    # "北京的职工沟通会和安徽的招聘会": the last conjunct carries its own 的-phrase,
    # so the first one's modifier ("北京的") is its own too.
    owned = right_end < each and words[right_end] == "的" and left_start >= 2
    if len(starts) == 1 and _shares_head(words, flags, left_start, join, right_end):
        bounds[0] += 1  # "摄影开始和结束的时间": 摄影 is said of both
    elif owned and words[left_start - 1] == "的":
        tail_end = _run_end(words, flags, right_end + 1)
        modifier_start = _run_start(words, flags, left_start - 1)
        if tail_end > right_end + 1 and modifier_start < left_start - 1:
            bounds[0], ends[-1] = modifier_start, tail_end
    phrases = ["".join(words[b:e]) for b, e in zip(bounds, ends, strict=True)]
    # Word indices after the distributive word is removed (it comes later).
    return bounds[0], ends[-1], phrases


def _shares_head(words: list[str], flags: list[str], start: int, join: int, end: int) -> bool:
    """ "摄影开始和结束": one verb (or adjective) joined to a noun and a verb, so
    the noun belongs to both; "职工沟通会和招聘会" joins two nouns and shares nothing."""
    if end - join != 2 or join - start != 2:
        return False
    left, right = flags[join - 1][:1], flags[join + 1][:1]
    return left == right and left in ("v", "a") and flags[start].startswith("n")


def _is_stop(word: str, flag: str) -> bool:
    return flag.startswith(_STOP_FLAGS) or word in _VERBS_AFTER or word in _JOINS


def _run_end(words: list[str], flags: list[str], i: int) -> int:
    while i < len(words) and not _is_stop(words[i], flags[i]):
        i += 1
    return i


def _run_start(words: list[str], flags: list[str], i: int) -> int:
    while i > 0 and not _is_stop(words[i - 1], flags[i - 1]):
        i -= 1
    return i
