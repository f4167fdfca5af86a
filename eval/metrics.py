"""Scoring: one question's observation to its numbers, a run's numbers to metrics.

Retrieval metrics (answerable questions only) read the ranked passages:
recall@k is 1 when a relevant passage is among the first k; mrr@10 is 1/rank of
the first relevant passage within 10; ndcg@10 uses binary gains, with the ideal
ranking built from the relevant passages among the first 20 retrieved (the set
has no exhaustive judgments, and overlapping chunks share evidence).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from answer.question import SHORT_TYPES, answer_type
from answer.spans import OPENING_QUOTES, UNITS, spans
from eval.backends import Observation
from eval.questions import EvalQuestion

# The keys of `python -m eval run --json`, in order (plus mode, k and model).
METRICS = (
    "recall@1",
    "recall@5",
    "mrr@10",
    "ndcg@10",
    "refusal_accuracy",
    "false_refusal_rate",
    "keyword_recall",
    "short_answer_accuracy",
    "citation_accuracy",
    "latency_p50_ms",
    "latency_p95_ms",
    "n",
)
LOWER_IS_BETTER = {"false_refusal_rate", "latency_p50_ms", "latency_p95_ms"}
CI_METRICS = {"recall@1": "hit1", "mrr@10": "rr"}


@dataclass(frozen=True)
class Scored:
    """One question in one run: what happened and how it scores."""

    question: EvalQuestion
    observation: Observation
    relevant: tuple[bool, ...]  # per retrieved passage, in rank order
    cited_relevant: tuple[bool, ...]  # per citation
    keywords_found: tuple[str, ...]
    answer_type: str = "other"  # what the question asks for (answer.question)

    @property
    def first_rank(self) -> int | None:
        return next((i + 1 for i, r in enumerate(self.relevant) if r), None)

    @property
    def hit1(self) -> float:
        return float(self.first_rank == 1)

    @property
    def hit5(self) -> float:
        return float(self.first_rank is not None and self.first_rank <= 5)

    @property
    def rr(self) -> float:
        rank = self.first_rank
        return 1.0 / rank if rank is not None and rank <= 10 else 0.0

    @property
    def ndcg(self) -> float:
        gains = [1.0 / math.log2(i + 2) for i, r in enumerate(self.relevant[:10]) if r]
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(sum(self.relevant), 10)))
        return sum(gains) / ideal if ideal else 0.0

    @property
    def refusal_correct(self) -> bool:
        return self.observation.refused != self.question.answerable

    @property
    def keyword_recall(self) -> float | None:
        keywords = self.question.keywords
        return len(self.keywords_found) / len(keywords) if keywords else None

    @property
    def short_answer_correct(self) -> float | None:
        """For answerable questions asking for a number, date, person, place,
        organisation or name: 1 when the short answer equals a keyword (a
        refusal or no short answer is 0); None where no short answer applies."""
        q = self.question
        if not q.answerable or not short_answer_applies(self.answer_type, q.keywords):
            return None
        if self.observation.refused:
            return 0.0
        short = self.observation.short_answer
        return float(short_answer_matches(short, q.keywords, self.answer_type))

    @property
    def citation_accuracy(self) -> float | None:
        cited = self.cited_relevant
        return sum(cited) / len(cited) if cited else None

    def failures(self) -> list[str]:
        """Why this question counts as failed, in words for the report (empty: passed)."""
        q, o = self.question, self.observation
        if not q.answerable:
            return [] if o.refused else ["应拒答却作答"]
        reasons = []
        if self.first_rank != 1:
            where = (
                f"排第 {self.first_rank}"
                if self.first_rank
                else f"前 {len(self.relevant)} 名中没有"
            )
            reasons.append(f"相关段落{where}")
        if o.refused:
            reasons.append("误拒答")
        elif self.keyword_recall is not None and self.keyword_recall < 1:
            missing = [k for k in q.keywords if k not in self.keywords_found]
            reasons.append("答案缺少：" + "、".join(missing))
        if self.short_answer_correct == 0.0 and not o.refused:
            reasons.append(f"短答案不对：“{o.short_answer or '（无）'}”")
        if self.citation_accuracy is not None and self.citation_accuracy < 1:
            reasons.append(f"引用不相关 {self.cited_relevant.count(False)} 处")
        return reasons

    def to_json(self) -> dict:
        q, o = self.question, self.observation
        return {
            "id": q.id,
            "question": q.question,
            "answerable": q.answerable,
            "tags": list(q.tags),
            "retrieved": [
                {
                    "rank": i + 1,
                    "chunk_id": p.chunk_id,
                    "organisation": p.organisation,
                    "title": p.title,
                    "relevant": rel,
                    "text": p.text,
                }
                for i, (p, rel) in enumerate(zip(o.retrieved, self.relevant, strict=True))
            ],
            "first_relevant_rank": self.first_rank,
            "answer": o.answer,
            "short_answer": o.short_answer,
            "answer_type": self.answer_type,
            "refused": o.refused,
            "citations": [
                {"chunk_id": p.chunk_id, "relevant": rel}
                for p, rel in zip(o.cited, self.cited_relevant, strict=True)
            ],
            "keywords_found": list(self.keywords_found),
            "metrics": {
                "recall@1": self.hit1 if q.answerable else None,
                "recall@5": self.hit5 if q.answerable else None,
                "rr@10": self.rr if q.answerable else None,
                "ndcg@10": self.ndcg if q.answerable else None,
                "refusal_correct": self.refusal_correct,
                "keyword_recall": self.keyword_recall if q.answerable else None,
                "short_answer_correct": self.short_answer_correct,
                "citation_accuracy": self.citation_accuracy if q.answerable else None,
            },
            "latency_ms": round(o.latency_ms, 2),
            "failures": self.failures(),
        }


def score(question: EvalQuestion, observation: Observation) -> Scored:
    def relevant(p) -> bool:
        return question.is_relevant(p.text, p.organisation, p.title)

    answer = _fold(observation.answer)
    found = () if observation.refused else tuple(k for k in question.keywords if _fold(k) in answer)
    return Scored(
        question,
        observation,
        tuple(relevant(p) for p in observation.retrieved),
        tuple(relevant(p) for p in observation.cited),
        found,
        answer_type(question.question),
    )


def summarise(scored: list[Scored]) -> dict:
    """The run's metrics, keyed as METRICS. Retrieval, keyword and citation
    metrics cover answerable questions; a refused answerable question finds no
    keywords. citation_accuracy pools every citation (None when nothing was cited)."""
    answerable = [s for s in scored if s.question.answerable]
    with_keywords = [s for s in answerable if s.question.keywords]
    citations = [c for s in answerable for c in s.cited_relevant]
    latencies = [s.observation.latency_ms for s in scored]
    return {
        "recall@1": _mean(s.hit1 for s in answerable),
        "recall@5": _mean(s.hit5 for s in answerable),
        "mrr@10": _mean(s.rr for s in answerable),
        "ndcg@10": _mean(s.ndcg for s in answerable),
        "refusal_accuracy": _mean(float(s.refusal_correct) for s in scored),
        "false_refusal_rate": _mean(float(s.observation.refused) for s in answerable),
        "keyword_recall": _mean(s.keyword_recall for s in with_keywords),
        "short_answer_accuracy": _mean(s.short_answer_correct for s in scored),
        "citation_accuracy": _mean(float(c) for c in citations),
        "latency_p50_ms": _percentile(latencies, 50),
        "latency_p95_ms": _percentile(latencies, 95),
        "n": len(scored),
    }


def bootstrap_ci(
    values: list[float], resamples: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """95 % percentile interval of the mean, resampling questions with replacement.
    Seeded, so the same run reports the same interval."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def intervals(scored: list[Scored]) -> dict[str, tuple[float, float] | None]:
    answerable = [s for s in scored if s.question.answerable]
    return {
        name: bootstrap_ci([getattr(s, attr) for s in answerable])
        for name, attr in CI_METRICS.items()
    }


def by_tag(scored: list[Scored]) -> dict[str, dict]:
    tags = sorted({t for s in scored for t in s.question.tags})
    return {t: summarise([s for s in scored if t in s.question.tags]) for t in tags}


def by_answer_type(scored: list[Scored]) -> dict[str, dict]:
    """Metrics per expected answer type (number, date, person, …)."""
    types = sorted({s.answer_type for s in scored})
    return {t: summarise([s for s in scored if s.answer_type == t]) for t in types}


def check_baseline(metrics: dict, baseline: dict) -> list[str]:
    """Metrics worse than the stored baseline, one line each (empty: the gate passes)."""
    worse = []
    for name, floor in baseline.items():
        value = metrics.get(name)
        if value is None or floor is None:
            continue
        if name in LOWER_IS_BETTER and value > floor + 1e-9:
            worse.append(f"{name} = {value} 高于基线 {floor}")
        elif name not in LOWER_IS_BETTER and value < floor - 1e-9:
            worse.append(f"{name} = {value} 低于基线 {floor}")
    return worse


def _fold(text: str) -> str:
    return "".join(text.split()).casefold()


SHORT_KEYWORD_CHARS = 12
_QUANTITY = re.compile(r"[\d.,]*\d(?:余|多)?[十百千万亿]*")
_UNIT_TAIL = re.compile(rf"(?:余|多)?(?:{'|'.join(map(re.escape, UNITS))})?")


def normalise_answer(text: str) -> str:
    """Width, case, spaces and punctuation folded away: "“3辆”" -> "3辆"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(
        ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


def short_answer_applies(kind: str, keywords: tuple[str, ...] | list[str]) -> bool:
    """A short answer is expected when the question asks for a typed fact and
    its keywords are span-sized: an annotated answer of a whole clause ("尤金袋鼠
    最初是于1628年船难的生还者在西澳发现的") can never equal a short answer."""
    return kind in SHORT_TYPES and any(
        0 < len(normalise_answer(k)) <= SHORT_KEYWORD_CHARS for k in keywords
    )


def short_answer_matches(short: str, keywords: tuple[str, ...] | list[str], kind: str = "") -> bool:
    """The short answer equals a keyword after normalisation. A keyword that is
    a bare quantity ("37885", "2.59万") also matches it followed by its unit
    ("37885场", "2.59万家", "800余件"): the short answer states the unit the
    passage gives, the keyword only the number. For a number or date question,
    the one number or date an annotated answer holds is also its short answer
    (for a name question, the one quoted title: 《童话》 in "男子组指定演唱《童话》"):
    "1988年" answers "建于哪一年" whose annotation reads "建于1988年" (single-
    reference sets write answers with their framing words, and the framing is
    not the fact); a keyword holding two of them keeps only its exact form.
    A compound question's short answer joins its parts' with "；"."""
    if "；" in short:  # a compound question's ("37885场；9311场"): every part's must match
        return all(short_answer_matches(part, keywords, kind) for part in short.split("；"))
    answer = normalise_answer(short)
    if not answer:
        return False
    for keyword in map(normalise_answer, _with_typed_cores(keywords, kind)):
        if answer == keyword:
            return True
        quantity = _QUANTITY.fullmatch(keyword) and answer.startswith(keyword)
        if quantity and _UNIT_TAIL.fullmatch(answer[len(keyword) :]):
            return True
    return False


def _with_typed_cores(keywords: tuple[str, ...] | list[str], kind: str) -> list[str]:
    """The keywords, and the one number, date or quoted title each holds
    ("男子组指定演唱《童话》" -> 《童话》): its short answer without the framing."""
    if kind not in ("number", "date", "name"):
        return list(keywords)
    cores = []
    for keyword in keywords:
        found = spans(keyword, kind)
        if kind == "name":
            found = [s for s in found if s.text[:1] in OPENING_QUOTES]
        if len(found) == 1:
            cores.append(found[0].text)
    return [*keywords, *cores]


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 4) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None
