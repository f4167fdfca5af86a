"""Split a document into cases (sections) with organisation and title.

Formats that mark headings (Markdown, Word, HTML; loaders render them as '#'
lines) are split at those headings. Plain text from print is split where an
organisation line ('云南省总工会') is followed by a title line, the layout of
case collections. A column of one case printed inside the next is moved back
(see `relocate_strays`) when the document's corpus profile asks for it (the
rule was measured on one article, so it is off for everything else); then
paragraphs broken by page breaks are joined, one section at a time so that no
repair runs across a case boundary.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from ingest.clean import is_heading_like, join_broken, normalise, paragraphs
from ingest.profile import PLAIN, ColumnRule, CorpusProfile
from ingest.records import Document, Section

ORGANISATION = re.compile(r"(总工会|工会|工会联合会|联合会|工会委员会)$")
_HEADING_MARK = re.compile(r"^(#{1,6})\s+(.*)$")

_MAX_BLOCKS_FOR_STRAY_SEARCH = 60


@dataclass
class _Draft:
    organisation: str
    title: str
    blocks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Move:
    """A run of paragraphs moved to the case it belongs to (for the build report)."""

    paragraphs: tuple[str, ...]
    from_case: str
    to_case: str
    ratio: float

    def describe(self) -> str:
        first = self.paragraphs[0]
        shown = first if len(first) <= 30 else first[:30] + "……"
        return (
            f"移动 {len(self.paragraphs)} 段（“{shown}”）：从「{self.from_case}」移回「{self.to_case}」，"
            f"与后者的用词相似度是与本案例的 {self.ratio:.1f} 倍"
        )


def split_sections(doc: Document, profile: CorpusProfile = PLAIN) -> list[Section]:
    return structure(doc, profile)[0]


def structure(doc: Document, profile: CorpusProfile = PLAIN) -> tuple[list[Section], list[Move]]:
    """The document's cases, and the paragraphs the profile's column rule moved."""
    blocks = paragraphs(normalise(doc.text, profile.misreadings))
    if any(_HEADING_MARK.match(b) for b in blocks):
        drafts = _split_marked(blocks)
    else:
        drafts = _split_plain(blocks)
    if not drafts[0].title and not drafts[0].organisation:
        drafts[0].title = Path(doc.name).stem
    moves = relocate_strays(drafts, profile.columns) if profile.columns else []
    sections = [
        Section(doc.name, d.organisation, d.title, tuple(join_broken(d.blocks)), pos)
        for pos, d in enumerate(drafts)
        if d.blocks
    ]
    return sections, moves


def _split_plain(blocks: list[str]) -> list[_Draft]:
    drafts = [_Draft("", "")]
    i = 0
    if blocks and is_heading_like(blocks[0]) and not ORGANISATION.search(blocks[0]):
        drafts[0].title, i = blocks[0], 1
    while i < len(blocks):
        block = blocks[i]
        nxt = blocks[i + 1] if i + 1 < len(blocks) else ""
        if is_case_start(block, nxt):
            drafts.append(_Draft(block, nxt))
            i += 2
            continue
        drafts[-1].blocks.append(block)
        i += 1
    return drafts


def is_case_start(line: str, next_line: str) -> bool:
    """An organisation line followed by a title line opens a case."""
    return (
        is_heading_like(line, max_chars=24)
        and bool(ORGANISATION.search(line))
        and is_heading_like(next_line)
        and not ORGANISATION.search(next_line)
    )


def _split_marked(blocks: list[str]) -> list[_Draft]:
    drafts = [_Draft("", "")]
    org, org_level = "", 0
    i = 0
    while i < len(blocks):
        mark = _HEADING_MARK.match(blocks[i])
        if not mark:
            drafts[-1].blocks.append(blocks[i])
            i += 1
            continue
        level, text = len(mark.group(1)), mark.group(2).strip()
        if org and level <= org_level:
            org = ""
        nxt = _HEADING_MARK.match(blocks[i + 1]) if i + 1 < len(blocks) else None
        if ORGANISATION.search(text) and is_heading_like(text, 24):
            org, org_level = text, level
            if nxt and not ORGANISATION.search(nxt.group(2)):
                drafts.append(_Draft(org, nxt.group(2).strip()))
                i += 2
                continue
            drafts.append(_Draft(org, ""))
        elif len(drafts) == 1 and not drafts[0].blocks and not drafts[0].title:
            drafts[0].title = text  # the document's own title
        else:
            drafts.append(_Draft(org, text))
        i += 1
    return drafts


def relocate_strays(drafts: list[_Draft], rule: ColumnRule) -> list[Move]:
    """Move a run of paragraphs that belongs to the previous case back to it.

    Print layouts sometimes continue one case's column inside the next case.
    A run (never a case's opening paragraph) is stray when its character-bigram
    TF-IDF vector is far closer to the previous case than to the rest of its
    own case.
    """
    vectoriser = _BigramTfidf([b for d in drafts for b in d.blocks])
    moves = []
    for prev, cur in pairwise(drafts[1:]):
        run = _most_stray_run(vectoriser, prev.blocks, cur.blocks, rule)
        if run:
            (start, end), ratio = run
            moved = tuple(cur.blocks[start:end])
            moves.append(Move(moved, _name(cur), _name(prev), ratio))
            prev.blocks.extend(moved)
            del cur.blocks[start:end]
    return moves


def _name(draft: _Draft) -> str:
    return " · ".join(p for p in (draft.organisation, draft.title) if p)


def _most_stray_run(
    vec: _BigramTfidf, prev: list[str], cur: list[str], rule: ColumnRule
) -> tuple[tuple[int, int], float] | None:
    if not prev or len(cur) < 3 or len(cur) > _MAX_BLOCKS_FOR_STRAY_SEARCH:
        return None
    prev_vec = vec.of(prev)
    best, best_ratio = None, rule.min_ratio
    for start in range(1, len(cur)):
        for end in range(start + 1, len(cur) + 1):
            run_vec = vec.of(cur[start:end])
            to_prev = _cosine(run_vec, prev_vec)
            to_own = _cosine(run_vec, vec.of(cur[:start] + cur[end:]))
            if to_prev < rule.min_similarity:
                continue
            ratio = to_prev / max(to_own, 1e-6)
            if ratio > best_ratio:
                best, best_ratio = (start, end), ratio
    return (best, best_ratio) if best else None


class _BigramTfidf:
    def __init__(self, blocks: list[str]) -> None:
        self.n = max(len(blocks), 1)
        self.df = Counter(g for b in blocks for g in set(_bigrams(b)))
        self._block_counts: dict[str, Counter[str]] = {}

    def of(self, blocks: list[str]) -> dict[str, float]:
        counts: Counter[str] = Counter()
        for block in blocks:
            if block not in self._block_counts:
                self._block_counts[block] = Counter(_bigrams(block))
            counts.update(self._block_counts[block])
        return {g: c * math.log(self.n / self.df.get(g, 1) + 1) for g, c in counts.items()}


def _bigrams(text: str) -> list[str]:
    text = re.sub(r"[^\u3400-\u9fffA-Za-z0-9]", "", text)
    return [text[i : i + 2] for i in range(len(text) - 1)]


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0
