"""AnswerService: one question (with the conversation so far) to one Answer.

    rewrite follow-up -> search (places named first) -> evidence: answer or refuse
    -> LLM (streamed, citations checked) or extractive sentences

Loaded once at start-up and shared read-only by every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from answer.evidence import EvidenceJudge
from answer.extractive import Extractor
from answer.followup import rewrite
from answer.llm import ChatClient, LlmError, check_citations, cited_numbers, render_messages
from answer.records import Answer, Citation
from index.searcher import Hit, Searcher, clean_question
from settings import Settings

REFUSAL = "资料中没有找到相关内容。"
EMPTY_PROMPT = "请输入您的问题，例如：北京的双沟通一共开了多少场职工沟通会？"
_CANDIDATES = 20
_RERANKED = 5  # the passages the answer reads: their sentences are embedded anyway


class AnswerService:
    def __init__(
        self, searcher: Searcher, settings: Settings, llm: ChatClient | None = None
    ) -> None:
        self.searcher = searcher
        self.settings = settings
        self.judge = EvidenceJudge(searcher.index.bm25, searcher.index.chunks)
        self.extractor = Extractor(
            searcher.embedder, self.judge.term_weights, settings.answer_sentences
        )
        self.llm = llm

    @classmethod
    def open(cls, settings: Settings) -> AnswerService:
        llm = None
        if settings.llm_base_url and settings.llm_model:
            llm = ChatClient(
                settings.llm_base_url,
                settings.llm_model,
                settings.llm_api_key,
                settings.llm_timeout,
                settings.llm_temperature,
            )
        return cls(Searcher.open(settings), settings, llm)

    def answer(
        self, question: str, previous: list[str] | None = None, k: int | None = None
    ) -> Answer:
        final = None
        for event in self.stream(question, previous, k):
            final = event
        assert isinstance(final, Answer)
        return final

    def stream(
        self, question: str, previous: list[str] | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        """Yield the growing answer text (when a model streams it), then the Answer.
        Raises EmptyQuestion for an empty question: the caller prompts, no search."""
        notes = []
        cleaned = clean_question(question)
        if len(cleaned) > self.settings.max_question_chars:
            cleaned = cleaned[: self.settings.max_question_chars]
            notes.append(f"问题过长，只按前 {self.settings.max_question_chars} 个字检索。")
        searched = rewrite(cleaned, previous or [], self.judge.places_in)
        if searched != cleaned:
            notes.append(f"结合上文，按“{searched}”检索。")
        # Embedded once: the search and the sentence scoring both need it.
        query_vector = self.searcher.embedder.embed_query(searched)
        ranked = tuple(self.rank(searched, query_vector))
        hits = list(ranked[: k or self.settings.top_k])
        evidence = self.judge.assess(searched, hits)
        if not evidence.answerable(
            self.settings.refuse_min_coverage, self.settings.refuse_min_dense
        ):
            yield Answer(REFUSAL, (), True, tuple(notes), searched, tuple(hits[:3]), ranked)
            return
        if self.llm is not None:
            try:
                for event in self._from_llm(searched, hits, notes):
                    yield replace(event, retrieved=ranked) if isinstance(event, Answer) else event
                return
            except LlmError as exc:
                notes.append(f"{exc}，以下为资料摘录。")
        text, citations = self.extractor.answer(searched, hits, query_vector)
        yield Answer(text, citations, False, tuple(notes), searched, retrieved=ranked)

    def search(
        self, question: str, k: int | None = None, query_vector: np.ndarray | None = None
    ) -> list[Hit]:
        """The top k passages the answer is read from."""
        return self.rank(question, query_vector)[: k or self.settings.top_k]

    def rank(self, question: str, query_vector: np.ndarray | None = None) -> list[Hit]:
        """The candidates in order; when the question names places, only passages
        about them (a question about 江苏 is not answered from 北京's case); the
        first few reordered by their best sentence."""
        if query_vector is None:
            query_vector = self.searcher.embedder.embed_query(question)
        depth = max(_CANDIDATES, self.settings.top_k)
        hits = self.searcher.search(question, k=depth, query_vector=query_vector)
        places = self.judge.places_in(question)
        hits = [h for h in hits if any(p in h.chunk.index_text for p in places)] or hits
        head = self.extractor.rerank(question, hits[:_RERANKED], query_vector)
        return head + hits[_RERANKED:]

    def _from_llm(self, question: str, hits: list[Hit], notes: list[str]) -> Iterator[str | Answer]:
        text = ""
        for piece in self.llm.stream(render_messages(question, hits)):
            text += piece
            yield text
        text, bad = check_citations(text.strip(), len(hits))
        if bad:
            notes.append("已删除指向不存在资料的引用：" + "、".join(f"[{n}]" for n in bad))
        if REFUSAL.rstrip("。") in text:
            yield Answer(REFUSAL, (), True, tuple(notes), question, tuple(hits[:3]))
            return
        numbers = cited_numbers(text)
        if not numbers:
            notes.append("大模型的回答没有标注出处，请核对下方资料。")
        citations = tuple(Citation(n, hits[n - 1]) for n in numbers)
        yield Answer(text, citations, False, tuple(notes), question)
