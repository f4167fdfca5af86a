"""Sentences of a passage: what the reader scores and quotes, and what gets a
vector of its own when the passage is embedded (index/build.py), so the two
must split alike."""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*[”’」』）)]*")
_MIN_CHARS = 4
# Recorded with stored sentence vectors: change it when the splitting changes.
SENTENCE_SPLITTER = "sentences-v1"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of four characters or more, outer space trimmed."""
    spans = []
    for m in _SENTENCE.finditer(text):
        raw = m.group()
        start = m.start() + len(raw) - len(raw.lstrip())
        end = m.end() - (len(raw) - len(raw.rstrip()))
        if end - start >= _MIN_CHARS:
            spans.append((start, end))
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]
