"""Repair text extracted from print: character forms, whitespace, and paragraphs
broken across page and column breaks.

Two steps, used by `structure` in this order: `normalise` works on characters and
lines of the whole document; `join_broken` mends paragraphs within one section,
so a repair never runs across a case boundary.
"""

from __future__ import annotations

import re

# Full-width letters and digits (ＡＢＣ１２３) become ASCII; Chinese punctuation
# stays full-width. The reverse holds for punctuation typed half-width inside
# Chinese text ("4月26日,全国"), which we widen so sentence splitting sees it.
_FULLWIDTH_ALNUM = {
    cp: cp - 0xFEE0
    for cp in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
}
_FULLWIDTH_ALNUM[0x3000] = 0x20  # ideographic space
_WIDEN = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_CJK = r"\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef“”‘’"
_HALF_PUNCT_IN_CJK = re.compile(rf"(?<=[{_CJK}])[,;:?!()]|[,;:?!()](?=[{_CJK}])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\xa0]+")

# A paragraph that ends with one of these ends a sentence; anything else was
# cut by a page or column break and continues in the next paragraph.
_SENTENCE_END = re.compile(r"[。！？!?；;…]['\"”’」』）)]*$")
_IN_SENTENCE = re.compile(r"[，,。；;！？!?：]")
_ENDS_LATIN = re.compile(r"[A-Za-z0-9]$")
_STARTS_LATIN = re.compile(r"^[A-Za-z0-9]")


def normalise(text: str, misreadings: tuple[tuple[str, str], ...] = ()) -> str:
    """Character-level clean-up; keeps line and paragraph structure.
    `misreadings`: (wrong, right) pairs a corpus profile knows for its documents."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = text.translate(_FULLWIDTH_ALNUM)
    text = _HALF_PUNCT_IN_CJK.sub(lambda m: _WIDEN[m.group()], text)
    for wrong, right in misreadings:
        text = text.replace(wrong, right)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines)


def paragraphs(text: str) -> list[str]:
    """Every non-empty line, as a candidate paragraph. Files differ in whether a
    line break means a new paragraph or a wrapped line; `join_broken` settles it
    by whether the line ends a sentence, so no format needs guessing here."""
    return [line for line in text.split("\n") if line]


def glue(*parts: str) -> str:
    """Join fragments of one sentence: no space between Chinese characters,
    one space between Latin words."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and _ENDS_LATIN.search(out) and _STARTS_LATIN.search(part):
            out += " "
        out += part
    return out


def ends_sentence(paragraph: str) -> bool:
    return bool(_SENTENCE_END.search(paragraph))


def join_broken(paras: list[str]) -> list[str]:
    """Join each paragraph that stops mid-sentence with the one after it."""
    out: list[str] = []
    for para in paras:
        if out and not ends_sentence(out[-1]):
            out[-1] = glue(out[-1], para)
        else:
            out.append(para)
    return out


def is_heading_like(line: str, max_chars: int = 48) -> bool:
    """Short, and free of the punctuation that runs through sentences."""
    return 0 < len(line) <= max_chars and not _IN_SENTENCE.search(line)
