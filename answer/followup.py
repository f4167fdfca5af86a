"""Turn a follow-up ("那江苏呢？") into a question that stands on its own.

Rules, not a model: a short question that opens with 那/那么/还有/另外 or
ends with 呢 continues the previous question. When both name a place, the new
place takes the old one's spot ("北京的双沟通…" -> "江苏的双沟通…"); otherwise
the new words are put in front of the previous question.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from index.places import pinyin_spellings

_OPENERS = re.compile(r"^(那么|那|还有|另外|再问一下|然后)[，,\s]*")
_CLOSERS = re.compile(r"(的情况|情况|怎么样|如何|又如何)?(呢)?[？?。！!\s]*$")
_FOLLOWUP_MAX_CHARS = 24
_STANDALONE_CHARS = 8


def is_followup(question: str) -> bool:
    q = question.strip()
    return len(q) <= _FOLLOWUP_MAX_CHARS and bool(
        _OPENERS.match(q)
        or re.search(r"呢[？?]?\s*$", q)
        or re.match(r"^(and|what about)\b", q, re.I)
    )


def rewrite(question: str, previous: list[str], places_in: Callable[[str], list[str]]) -> str:
    """`previous`: earlier questions of the conversation, oldest first, as searched."""
    if not previous or not is_followup(question):
        return question
    last = previous[-1]
    topic = _CLOSERS.sub("", _OPENERS.sub("", question.strip())).strip()
    topic = re.sub(r"^(and|what about)\s+", "", topic, flags=re.I)
    if not topic:
        return last
    new_places, old_places = places_in(topic), places_in(last)
    if new_places and old_places and _only_places(topic, new_places):
        rewritten = last
        for old in old_places:
            rewritten = rewritten.replace(old, new_places[0])
        if rewritten != last:
            return rewritten
    if len(topic) > _STANDALONE_CHARS:
        return question  # "那江苏在女职工服务上做了什么呢？" already says what it asks
    return f"{topic} {last}"


def _only_places(topic: str, places: list[str]) -> bool:
    """True when the follow-up names a place and nothing else ("江苏", "Jiangsu")."""
    spellings = pinyin_spellings(places)
    rest = re.sub(
        r"[A-Za-z]+", lambda m: "" if m.group().lower() in spellings else m.group(), topic
    )
    for place in places:
        rest = rest.replace(place, "")
    return not re.search(r"[\u3400-\u9fffA-Za-z0-9]", re.sub(r"[的省市]", "", rest))
