"""Names the documents' titles give ("蓝线裸顶鲷", "蒙泰罗" of "蒂亚戈·蒙泰罗"): what
a question names when it names a document's subject. Question analysis takes
them as the focus whole, where jieba's cut alone keeps a piece of an unknown
name (answer/question.py). Like the places, they come from the documents."""

from __future__ import annotations

import re
from collections.abc import Iterable

NAME_CHARS = 10  # the longest title part taken for a name
_PARTS = re.compile(r"[\s（）()·•・：:]+")
_CJK_NAME = re.compile(r"[\u3400-\u9fff]+")


def title_names(titles: Iterable[str]) -> frozenset[str]:
    """A title, and its parts between spaces, brackets, colons and name dots
    ("瓦士本市 （威斯康辛州）" -> 瓦士本市, 威斯康辛州; "龙岩：驿站" -> 龙岩, 驿站), of 2
    to NAME_CHARS Chinese characters. A part in quotes or a longer one gives none:
    of "坚持“三性”带“三力” 以数字化助推工会工作高质量发展" nothing is a name."""
    names = set()
    for title in titles:
        for part in [title, *_PARTS.split(title)]:
            if 2 <= len(part) <= NAME_CHARS and _CJK_NAME.fullmatch(part):
                names.add(part)
    return frozenset(names)


def names_in(text: str, names: frozenset[str]) -> list[str]:
    """The names `text` holds, looked up piece by piece (a collection has
    thousands of names; a question a few dozen characters)."""
    return [
        text[i:j]
        for i in range(len(text))
        for j in range(i + 2, min(len(text), i + NAME_CHARS) + 1)
        if text[i:j] in names
    ]
