"""Where a sentence repeats the question around its asking phrase.

People ask by rewording the sentence that answers: "魏舒把筑修城墙的事交给了谁？"
is answered by "他把筑修城墙的事交给韩简子和原寿过，". The longest piece of the
question's text before the asking phrase that ends at (or near) its end, and the
longest start of the text after it, are looked for in the sentence; between them
(or from the first to the end of its clause) stands the answer: the gap.

    align("他把筑修城墙的事交给韩简子和原寿过，自己到大陵泽打猎", "魏舒把筑修城墙的事交给了", "")
    -> left 0.75 (把筑修城墙的事交给), right 0, gap 韩简子和原寿过

Character matching, not words: jieba cuts names it does not know in odd places,
and the reworded sentence keeps characters more often than it keeps words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from answer.spans import QUOTED, Span

_TRAILING_DROPS = 2  # "交给了" is "交给" in the passage: that many of the last characters may go
_MAX_GAP = 20  # a longer gap is a clause, not an answer
_CLAUSE_BREAK = re.compile(r"[，,。；;：:！!？?]")
_CLAUSE_END = re.compile(r"[，,。；;：:！!？?、（）()「」“”《》\s]")
# Stripped from a gap's ends: punctuation, and the particles and prepositions
# that stand between the question's words and the answer ("由莫瓦桑" -> 莫瓦桑).
_GAP_TRIM = "，,。；;：:！!？?、 的是为了在于由被"
# Words that open a clause before its subject or place and are not part of the
# answer: "但只有世袭统治者拥有…" -> 世袭统治者, "源自法语" -> 法语, "位于吉斯伯恩市".
_GAP_OPENERS = re.compile(
    r"^(?:但是?|而且?|并且?|只有|仅有|就是|也|都|则|却|即|自|从|来自|源自|位于|地处)+"
)


@dataclass(frozen=True)
class Alignment:
    left: float  # share of the text before the asking phrase found (0–1)
    right: float  # share of the text after it found (0–1)
    gap: Span | None  # the text between what was found, when it is answer-sized


def align(text: str, before: str, after: str) -> Alignment:
    left = _left_match(text, before)
    start = left[0] + left[1] if left else 0
    right = _right_match(text, after, start, left is not None)
    gap = _gap(text, left, right)
    return Alignment(
        left[1] / len(before) if left else 0.0,
        right[1] / len(after) if right else 0.0,
        gap,
    )


def _left_match(text: str, before: str) -> tuple[int, int] | None:
    """(position, length) of the longest piece of `before`, of two characters or
    more, ending at its end or up to _TRAILING_DROPS characters before it."""
    for drop in range(_TRAILING_DROPS + 1):
        end = len(before) - drop
        if end < 2 or before[end - 2 : end] not in text:
            continue
        # A piece in the text has every shorter piece ending where it ends in
        # the text too: the earliest start found is a binary search away.
        found, missing = end - 2, -1  # before[found:end] is in the text
        while found - missing > 1:
            middle = (found + missing) // 2
            if before[middle:end] in text:
                found = middle
            else:
                missing = middle
        return text.find(before[found:end]), end - found
    return None


def _right_match(text: str, after: str, start: int, anchored: bool) -> tuple[int, int] | None:
    """(position, length) of the longest start of `after` found at or after
    `start`; one character is enough when the left side was found."""
    shortest = 1 if anchored else 2
    if len(after) < shortest or text.find(after[:shortest], start) < 0:
        return None
    # As on the left: every shorter start of a start found is found too.
    found, missing = shortest, len(after) + 1
    while missing - found > 1:
        middle = (found + missing) // 2
        if text.find(after[:middle], start) >= 0:
            found = middle
        else:
            missing = middle
    return text.find(after[:found], start), found


def _gap(text: str, left: tuple[int, int] | None, right: tuple[int, int] | None) -> Span | None:
    if left and right and right[0] == left[0] + left[1]:
        # "从师于哪位漫画家" in "从师于漫画家田河水泡": the asked-for kind of thing
        # comes first, the answer after it.
        start = right[0] + right[1]
        end = _clause_end(text, start)
    elif left and right and right[0] > left[0] + left[1]:
        start, end = left[0] + left[1], right[0]
        if _CLAUSE_BREAK.search(text[start:end].strip(_GAP_TRIM)):
            return None  # clauses apart: the question's words were found in other clauses
    elif left:
        start = left[0] + left[1]
        end = _clause_end(text, start)
    elif right:
        stops = [m.end() for m in _CLAUSE_END.finditer(text, 0, right[0])]
        start, end = (stops[-1] if stops else 0), right[0]
    else:
        return None
    piece = text[start:end]
    trimmed = _GAP_OPENERS.sub("", piece.strip(_GAP_TRIM)).strip(_GAP_TRIM)
    if not 0 < len(trimmed) <= _MAX_GAP:
        return None
    return Span(trimmed, start + piece.index(trimmed), 0.5)


def _clause_end(text: str, start: int) -> int:
    """Where the gap from `start` ends: at the clause's end, or after the quoted
    title it opens with ("男子组指定演唱《童话》（原唱者…" -> 《童话》)."""
    quoted = QUOTED.match(text, start)
    if quoted:
        return quoted.end()
    stop = _CLAUSE_END.search(text, start)
    return stop.start() if stop else len(text)
