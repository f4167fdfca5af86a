"""Corpus profiles: repairs fitted to one collection, kept as data and applied
to that collection only.

A profile (a JSON file in ingest/profiles/, or in GHQA_PROFILE_DIR) names the
documents it is for by their SHA-256, and carries what was measured on them:
print misreadings to correct, whether and how strictly to move a column that
the layout printed inside the next case, and example questions for the chat
page. Any other document gets `PLAIN`: no misreading table, no column moves.
`GHQA_CORPUS_PROFILE=NAME` applies a profile to every document of a build
(for a new edition of the same publication); `none` turns profiles off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from errors import GhqaError

BUILT_IN = Path(__file__).resolve().parent / "profiles"


class ProfileInvalid(GhqaError):
    """A profile file cannot be read, or a requested profile does not exist."""


@dataclass(frozen=True)
class ColumnRule:
    min_ratio: float  # a run this many times closer to the previous case is moved there
    min_similarity: float  # ... and at least this similar to it at all


@dataclass(frozen=True)
class CorpusProfile:
    name: str
    documents: frozenset[str] = frozenset()
    misreadings: tuple[tuple[str, str], ...] = ()
    columns: ColumnRule | None = None
    examples: tuple[tuple[str, str], ...] = field(default=())  # (organisation, question)

    @classmethod
    def from_json(cls, data: dict, origin: Path) -> CorpusProfile:
        try:
            rule = data.get("relocate_columns")
            return cls(
                name=str(data["name"]),
                documents=frozenset(data.get("documents", [])),
                misreadings=tuple(sorted(dict(data.get("misreadings", {})).items())),
                columns=ColumnRule(float(rule["min_ratio"]), float(rule["min_similarity"]))
                if rule
                else None,
                examples=tuple((str(o), str(q)) for o, q in data.get("examples", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileInvalid(
                f"语料配置 {origin} 格式有误（{exc}）：请对照 ingest/profiles/ 中的示例。"
            ) from None


PLAIN = CorpusProfile("none")


@cache
def load_profiles(extra_dir: Path | None = None) -> tuple[CorpusProfile, ...]:
    files = sorted(BUILT_IN.glob("*.json"))
    if extra_dir is not None:
        files += sorted(Path(extra_dir).glob("*.json"))
    profiles = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProfileInvalid(f"无法读取语料配置 {path}（{exc}）。") from None
        profiles.append(CorpusProfile.from_json(data, path))
    return tuple(profiles)


def profile_for(
    sha256: str, forced: str | None = None, extra_dir: Path | None = None
) -> CorpusProfile:
    """The profile for a document: the forced one, else the one that lists it, else PLAIN."""
    profiles = load_profiles(extra_dir)
    if forced:
        if forced == PLAIN.name:
            return PLAIN
        named = [p for p in profiles if p.name == forced]
        if not named:
            known = "、".join(p.name for p in profiles) or "（无）"
            raise ProfileInvalid(
                f"没有名为 {forced} 的语料配置：可用的有 {known}，或用 none 关闭。"
            )
        return named[0]
    return next((p for p in profiles if sha256 in p.documents), PLAIN)
