"""The people, places and organisations a passage names, found once when the
passage is made.

A question asking "谁" or "哪里" is answered with one of these; finding them
takes jieba's part-of-speech tagger about 2 ms per passage, 5–10 ms for the
five passages the reader reads. Done at ingest (in the worker processes, beside
chunking), the question path only reads them back from the chunk record.

    find_entities("保罗·皮尔斯出生于美国加利福尼亚州") -> "p0:6 s9:8"
    find_entities("龙岩市总工会在新罗区设立驿站")     -> "s0:3 O0:6 s7:3"
    (kind, start, length; the kinds are in KINDS)

Tagging the whole passage gives every sentence and clause the same words as
tagging it alone: jieba cuts text into blocks at punctuation and spaces first,
and sentences and clauses end at punctuation. A change to what is found bumps
ingest.PIPELINE_VERSION, so that older chunks are remade on the next ingest.
"""

from __future__ import annotations

import re
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
_NAME_DOTS = "·•・"


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
    run_kind, run_start, run = "", 0, ""
    nominal_start, nominal = 0, ""
    for pair in jieba.posseg.lcut(text, HMM=False):
        word, flag = pair.word, pair.flag
        kind = _FLAG_KIND.get(flag[:2], "")
        if (kind and kind == run_kind) or (run and word in _NAME_DOTS):
            run += word
        else:
            if run:
                found.append(Entity(run_kind, run_start, run))
            run_kind, run_start, run = (kind, position, word) if kind else ("", 0, "")
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
    return [e for e in found if len(e.text.strip(_NAME_DOTS)) >= 2]


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
