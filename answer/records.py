"""Records the answering stage hands to the UI (and, later, the API)."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.searcher import Hit


@dataclass(frozen=True)
class Citation:
    """Passage [n] of an answer, with the sentences the answer took from it."""

    n: int
    hit: Hit
    quotes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        c = self.hit.chunk
        return {
            "n": self.n,
            "chunk_id": c.id,
            "text": c.text,
            "organisation": c.organisation,
            "title": c.title,
            "document": c.document,
            "score": round(self.hit.score, 6),
            "quotes": list(self.quotes),
        }


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    notes: tuple[str, ...] = ()  # shown to the user: truncation, LLM fallback, removed [n]
    question: str = ""  # the question as searched (after follow-up rewriting)
    related: tuple[Hit, ...] = field(default=())  # nearest passages when refused
    # Every candidate in rank order (the first k were read): for evaluation.
    retrieved: tuple[Hit, ...] = field(default=())
    # The asked-for fact alone ("3辆", "1628年"), when the reader found one; the
    # text then gives the sentence that supports it.
    short_answer: str = ""
    # A question that asks two things ("A和B各…"): one answer per part, whose
    # [n] refer to this answer's citations. `text` then holds them all.
    parts: tuple[Answer, ...] = ()

    def to_json(self) -> dict:
        return {
            "answer": self.text,
            "short_answer": self.short_answer,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "notes": list(self.notes),
            "question": self.question,
            "parts": [
                {
                    "question": p.question,
                    "answer": p.text,
                    "short_answer": p.short_answer,
                    "refused": p.refused,
                }
                for p in self.parts
            ],
        }
