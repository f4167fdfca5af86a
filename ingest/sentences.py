"""Sentences of a passage: what the reader scores and quotes, and what gets a
vector of its own when the passage is embedded (index/build.py), so the two
must split alike."""

from __future__ import annotations

import re

_ENDS = "。！？；!?;"
_CLOSERS = "”’」』）)"
# A mark inside brackets or quotes that close soon after does not end the
# sentence: 又称作-{zh-cn：宽叶毛毡苔；zh-hk：锦地罗}-, （包括Hey! Say! JUMP）,
# 写到了“自在”，也就是无上我：“唵！自在居住在……中。” A long quotation is
# split as usual, and so is a bracket that never closes (text extracted from
# print loses some), so one missing mark cannot glue a paragraph together.
_PAIRS = {"（": "）", "(": ")", "「": "」", "『": "』", "“": "”", "《": "》", "【": "】", "{": "}"}
_QUOTES = "「『“"
_MAX_INSIDE = 80
_MARK = re.compile("[" + re.escape(_ENDS + "\n" + "".join(_PAIRS)) + "]")
_MIN_CHARS = 4
# Recorded with stored sentence vectors: change it when the splitting changes.
SENTENCE_SPLITTER = "sentences-v2"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of four characters or more, outer space trimmed."""
    spans: list[tuple[int, int]] = []
    start = i = 0
    while found := _MARK.search(text, i):
        at = found.start()
        mark = text[at]
        closing = _closing(text, at) if mark in _PAIRS else at
        if closing > at:
            i = closing + 1
            # A quotation that ends its own sentence ends this one (称：“…秀才。”),
            # not a title or a bracket that ends in a mark (《桃之阵!》).
            if mark in _QUOTES and text[closing - 1] in _ENDS:
                start = i = _add(spans, text, start, i)
        elif mark == "\n":
            _add(spans, text, start, at)
            start = i = at + 1
        elif mark in _ENDS:
            start = i = _add(spans, text, start, at + 1)
        else:
            i = at + 1
    _add(spans, text, start, len(text))
    return spans


def _closing(text: str, opening: int) -> int:
    """Where the bracket or quote opened at `opening` closes, when it closes on
    the same line within _MAX_INSIDE characters; else `opening` itself."""
    opener, closer = text[opening], _PAIRS[text[opening]]
    depth = 0
    for j, ch in enumerate(text[opening : opening + _MAX_INSIDE + 2], opening):
        if ch == "\n":
            break
        depth += (ch == opener) - (ch == closer)
        if depth == 0:
            return j
    return opening


def _add(spans: list[tuple[int, int]], text: str, start: int, end: int) -> int:
    """Add the sentence from `start`, ending at `end` with the end marks and
    closing quotes that follow it; return where the next one starts."""
    while end < len(text) and text[end] in _ENDS:
        end += 1
    while end < len(text) and text[end] in _CLOSERS:
        end += 1
    raw = text[start:end]
    first = start + len(raw) - len(raw.lstrip())
    last = end - (len(raw) - len(raw.rstrip()))
    if last - first >= _MIN_CHARS:
        spans.append((first, last))
    return end


def split_sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]
