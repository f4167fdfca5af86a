"""Evaluation sets: JSONL files, one question per line.

    {"id": str, "question": str, "evidence": [str], "keywords": [str],
     "source": str | null, "answerable": bool, "tags": [str], "split": "fit" | "eval"}

`evidence` marks the relevant passages (a passage containing any of the strings,
whitespace ignored); `keywords` are the facts a correct answer states; `source`
(an organisation or case title) decides relevance when there is no evidence;
`tags` group the questions in reports; `split` says whether a question may be
used to fit the answer models ("fit") or only to measure them ("eval", the
default). Only `id` and `question` are required.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from errors import GhqaError

KNOWN_FIELDS = {"id", "question", "evidence", "keywords", "source", "answerable", "tags", "split"}
SPLITS = ("fit", "eval")


class EvalSetInvalid(GhqaError):
    """An evaluation set cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    evidence: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    source: str | None = None
    answerable: bool = True
    tags: tuple[str, ...] = ()
    split: str = "eval"
    extra: tuple[tuple[str, object], ...] = ()  # unknown fields, kept but unused

    def unanswerable_copy(self, text: str, tag: str) -> dict:
        """The set row of a copy of this question asking `text`, which the
        documents do not answer (eval/other_numbers.py, eval/unknown_words.py)."""
        return {
            "id": f"{self.id}-{tag}",
            "question": text,
            "answerable": False,
            "tags": [tag],
            "split": self.split,
        }

    def is_relevant(self, text: str, organisation: str = "", title: str = "") -> bool:
        """Whether a passage supports the answer: it contains an evidence string
        (line breaks and spaces from the print layout ignored), or, for questions
        without evidence, it belongs to the source case."""
        if self.evidence:
            flat = _squash(text)
            return any(_squash(e) in flat for e in self.evidence)
        if self.source:
            return self.source in (organisation, title)
        return False


@dataclass(frozen=True)
class EvalSet:
    path: Path
    questions: tuple[EvalQuestion, ...]
    unknown_fields: tuple[str, ...]  # reported once by the caller, then ignored

    def only(self, split: str | None) -> EvalSet:
        """The questions of one split (None: all of them)."""
        if split is None:
            return self
        kept = tuple(q for q in self.questions if q.split == split)
        if not kept:
            raise EvalSetInvalid(f"{self.path} 中没有 split 为 {split} 的题目。")
        return EvalSet(self.path, kept, self.unknown_fields)


def load_set(path: Path) -> EvalSet:
    if not path.is_file():
        raise EvalSetInvalid(
            f"找不到评测集 {path}：请给出一个 JSONL 文件，例如 eval/sets/acftu2024.jsonl。"
        )
    questions, unknown, seen = [], set(), set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise EvalSetInvalid(f"{path} 不是 UTF-8 文本：请另存为 UTF-8。") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            question = parse_line(line)
        except ValueError as exc:
            raise EvalSetInvalid(f"{path} 第 {number} 行：{exc}") from None
        if question.id in seen:
            raise EvalSetInvalid(
                f"{path} 第 {number} 行：id “{question.id}” 重复，每题的 id 须唯一。"
            )
        seen.add(question.id)
        unknown.update(k for k, _ in question.extra)
        questions.append(question)
    if not questions:
        raise EvalSetInvalid(f"{path} 中没有题目：每行写一个 JSON 对象。")
    return EvalSet(path, tuple(questions), tuple(sorted(unknown)))


def parse_line(line: str) -> EvalQuestion:
    """One question; ValueError says what is wrong with the line."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"不是合法的 JSON（{exc.msg}，第 {exc.colno} 列）") from None
    if not isinstance(data, dict):
        raise ValueError("每行必须是一个 JSON 对象")
    for name in ("id", "question"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise ValueError(f"缺少字段 {name}（非空字符串）")
    for name in ("evidence", "keywords", "tags"):
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"字段 {name} 必须是字符串数组")
    if data.get("source") is not None and not isinstance(data["source"], str):
        raise ValueError("字段 source 必须是字符串或 null")
    split = data.get("split", "eval")
    if split not in SPLITS:
        raise ValueError("字段 split 必须是 fit 或 eval")
    answerable = data.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError("字段 answerable 必须是 true 或 false")
    return EvalQuestion(
        id=data["id"],
        question=data["question"],
        evidence=tuple(data.get("evidence", [])),
        keywords=tuple(data.get("keywords", [])),
        source=data.get("source"),
        answerable=answerable,
        tags=tuple(data.get("tags", [])),
        split=split,
        extra=tuple((k, v) for k, v in data.items() if k not in KNOWN_FIELDS),
    )


def _squash(text: str) -> str:
    return "".join(text.split())
