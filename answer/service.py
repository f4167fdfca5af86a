"""AnswerService: one question (with the conversation so far) to one Answer.

    rewrite follow-up -> split a question that asks two things (answer/compound.py)
    -> per part: analyse -> search (places named first) -> read (fitted clause
       scores, short answer) -> answerability: answer or refuse
    -> LLM (streamed, citations checked) or the reader's sentences, part by part

Loaded once at start-up and shared read-only by every request.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from answer.answerability import AnswerabilityJudge
from answer.compound import split_question
from answer.fitted import LogisticModel
from answer.followup import rewrite
from answer.llm import ChatClient, LlmError, check_citations, cited_numbers, render_messages
from answer.question import QuestionAnalysis, analyse
from answer.quoting import Numbering, Quoter
from answer.reader import Reader, Reading
from answer.records import Answer, Citation
from index.collection import Query, Where
from index.searcher import Hit, Searcher, clean_question
from index.titles import names_in
from settings import Settings

REFUSAL = "资料中没有找到相关内容。"
EMPTY_PROMPT = "请输入您的问题，例如：这项工作取得了哪些成效？"
_MARKER = re.compile(r"\[\d+\]")
_CANDIDATES = 20
_RERANKED = 5  # the passages the reader reorders by their best clause
TOPIC_SHARE = 10  # a title word in 1 of this many passages names the topic, not a subject


@dataclass(frozen=True)
class _Part:
    """One part of a question (the whole question, unless it asks two things),
    searched, read and judged."""

    question: str
    ranked: tuple[Hit, ...]
    hits: list[Hit]  # the first k of `ranked`, which the answer may cite
    reading: Reading
    answerable: bool


class AnswerService:
    def __init__(
        self,
        searcher: Searcher,
        settings: Settings,
        llm: ChatClient | None = None,
        models: dict[str, LogisticModel] | None = None,
    ) -> None:
        """`models`: fitted models by name ("reader", "spans", "answerability",
        "quotes") instead of the shipped ones; `python -m eval.fit` passes its own."""
        models = models or {}
        self.searcher = searcher
        self.settings = settings
        self.judge = AnswerabilityJudge(searcher.collection, models.get("answerability"))
        self.reader = Reader(
            searcher.sentence_vectors,
            self.judge.term_weights,
            models.get("reader"),
            models.get("spans"),
        )
        self.quoter = Quoter(settings.answer_sentences, models.get("quotes"))
        self.llm = llm
        # The names the documents' titles give: what a question naming one is about.
        self.title_names = searcher.collection.title_names()

    def analyse(self, question: str) -> QuestionAnalysis:
        """The question with the names it holds that are a document's subject: a
        title word one passage in ten or more holds ("工会" in a union corpus)
        names the collection's topic, not what this question is about."""
        collection = self.searcher.collection
        named = frozenset(
            name
            for name in names_in(question, self.title_names)
            if collection.doc_freq(name) * TOPIC_SHARE < len(collection)
        )
        return analyse(question, named)

    @classmethod
    def open(cls, settings: Settings) -> AnswerService:
        return cls(Searcher.open(settings), settings, ChatClient.configured(settings))

    def answer(
        self,
        question: str,
        previous: list[str] | None = None,
        k: int | None = None,
        where: Where = (),
    ) -> Answer:
        final = None
        for event in self.stream(question, previous, k, where):
            final = event
        assert isinstance(final, Answer)
        return final

    def stream(
        self,
        question: str,
        previous: list[str] | None = None,
        k: int | None = None,
        where: Where = (),
    ) -> Iterator[str | Answer]:
        """Yield the growing answer text (when a model streams it), then the Answer.
        `where`: only passages with these field values (e.g. one organisation's).
        Raises EmptyQuestion for an empty question: the caller prompts, no search."""
        notes = []
        cleaned = clean_question(question)
        if len(cleaned) > self.settings.max_question_chars:
            cleaned = cleaned[: self.settings.max_question_chars]
            notes.append(f"问题过长，只按前 {self.settings.max_question_chars} 个字检索。")
        searched = rewrite(cleaned, previous or [], self.judge.places_in)
        if searched != cleaned:
            notes.append(f"结合上文，按“{searched}”检索。")
        k = k or self.settings.top_k
        parts = [self._judge(part, k, where) for part in split_question(searched)]
        ranked = _interleaved([p.ranked for p in parts])
        answered = [p for p in parts if p.answerable]
        if not answered:
            yield Answer(REFUSAL, (), True, tuple(notes), searched, ranked[:3], ranked)
            return
        caution = self._caution(answered)
        if self.llm is not None:
            # The model reads the whole question, over the passages of every part.
            hits = list(_interleaved([p.hits for p in answered])[:k])
            try:
                for event in self._from_llm(searched, hits, notes, caution):
                    yield replace(event, retrieved=ranked) if isinstance(event, Answer) else event
                return
            except LlmError as exc:
                notes.append(f"{exc}，以下为资料摘录。")
        if caution:
            notes.append(caution)
        if len(parts) == 1:
            text, citations = self.quoter.compose(parts[0].reading, parts[0].hits)
            short = parts[0].reading.short_answer
            yield Answer(text, citations, False, tuple(notes), searched, (), ranked, short)
            return
        yield self._compound(parts, notes, searched, ranked)

    def _judge(self, question: str, k: int, where: Where) -> _Part:
        q = self.analyse(question)
        ranked, reading = self.read(q, self.query(q, k, where), k)
        hits = list(ranked[:k])
        evidence = self.judge.assess(q, hits, reading)
        return _Part(
            question, ranked, hits, reading, evidence.probability >= self.answer_threshold()
        )

    def _compound(
        self, parts: list[_Part], notes: list[str], searched: str, ranked: tuple[Hit, ...]
    ) -> Answer:
        """One answer per part, under the part's question; passages numbered
        across all parts. The short answer is every part's, when each has one."""
        numbering = Numbering()
        answers: list[Answer] = []
        for p in parts:
            if not p.answerable:
                answers.append(Answer(REFUSAL, (), True, question=p.question))
                continue
            text = numbering.mark(self.quoter.quotes(p.reading, p.hits))
            # "男子和女子的收入分别是多少": one sentence may state both; quote it once.
            if any(a.text == text for a in answers):
                text = "出处同上。" + "".join(_MARKER.findall(text))
            short = p.reading.short_answer
            answers.append(Answer(text, (), False, question=p.question, short_answer=short))
        shorts = [a.short_answer for a in answers]
        return Answer(
            "\n\n".join(f"{a.question}\n{a.text}" for a in answers),
            numbering.citations(),
            False,
            tuple(notes),
            searched,
            (),
            ranked,
            "；".join(shorts) if all(shorts) else "",
            tuple(answers),
        )

    def answer_threshold(self) -> float:
        """The configured cut-off, else the fitted one (lower before an LLM,
        which makes its own refusal)."""
        if self.settings.answer_threshold is not None:
            return self.settings.answer_threshold
        return self.judge.threshold(llm=self.llm is not None)

    def query(self, q: QuestionAnalysis, k: int, where: Where = ()) -> Query:
        """The search for a question: deeper than k, so that the reader can
        reorder the first passages and the place filter has some to keep."""
        return self.searcher.query(q.text, k=max(_CANDIDATES, k), where=where)

    def read(self, q: QuestionAnalysis, query: Query, k: int) -> tuple[tuple[Hit, ...], Reading]:
        """The candidates in order, and the reader's verdict on the first k.
        When passages mention the places the question names, only those (a
        question about 江苏 is answered from 江苏's case, not from 北京's similar
        one); a place no passage mentions is left to the answerability check.
        The first few are reordered by their best clause."""
        hits = self.searcher.search(query)
        places = self.judge.places_in(q.text)
        hits = [h for h in hits if any(p in h.chunk.index_text for p in places)] or hits
        head = hits[:_RERANKED]
        reading = self.reader.read(q, head, query.vector)
        order = reading.passage_order(len(head))
        ranked = (*(head[i] for i in order), *hits[_RERANKED:])
        if min(k, len(ranked)) <= len(head):  # the reading already covers the first k
            return ranked, reading.renumbered(order, k)
        return ranked, self.reader.read(q, list(ranked[:k]), query.vector)

    def _caution(self, answered: list[_Part]) -> str:
        """A note for an answer from passages about something near what was
        asked, naming the question's nouns they lack ("" when they lack none),
        so that the reader checks the answer fits."""
        missing = dict.fromkeys(
            w for p in answered for w in self.judge.missing_nouns(p.question, p.hits)
        )
        if not missing:
            return ""
        return f"资料中没有出现“{'”“'.join(missing)}”：这个回答依据最接近的段落，请核对它是否回答了问题。"

    def _from_llm(
        self, question: str, hits: list[Hit], notes: list[str], caution: str = ""
    ) -> Iterator[str | Answer]:
        """The model's answer, streamed, then checked; `caution` joins its notes
        unless the model refuses."""
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
        if caution:
            notes.append(caution)
        yield Answer(text, citations, False, tuple(notes), question)


def _interleaved(rankings: list[Sequence[Hit]]) -> tuple[Hit, ...]:
    """The parts' passages in turn (first of each, then second of each, …),
    each passage once: a compound question's "retrieved" serves all its parts."""
    seen: set[str] = set()
    merged = []
    for row in itertools.zip_longest(*rankings):
        for hit in row:
            if hit is not None and hit.chunk.id not in seen:
                seen.add(hit.chunk.id)
                merged.append(hit)
    return tuple(merged)
