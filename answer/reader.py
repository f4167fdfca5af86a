"""The reader: which sentence of the retrieved passages answers, and the short
answer inside it.

Candidates are the sentences of the top passages and the clauses of each
sentence (split at ，；：). Each is described by features — where its cosine to
the question stands among this question's candidates, the IDF-weighted share of
the question's words it holds, whether it holds the focus, the slot words and
the numbers the question names, a span of the expected answer type near a slot
word, how much of the question's text around its asking phrase it repeats
(answer/align.py), its passage's rank — and ranked by a LightGBM
learning-to-rank model fitted on labelled questions of two corpora (`python -m
eval.fit`). What the answer quotes around the best candidate is
answer/quoting.py's choice.

When the question asks for a number, date, person, place, organisation or
name, the typed spans of the best candidates (and the gap the question's words
leave in them) are scored by a fitted logistic model; the best becomes the
short answer when its probability clears the cut-off chosen on the fitting split.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import jieba.posseg
import numpy as np

from answer.align import align
from answer.fitted import LogisticModel, RankingModel, load_model, load_ranker
from answer.question import QuestionAnalysis
from answer.spans import QUOTE_MARKS, Span, of_another_dimension
from index.searcher import Hit
from ingest.entities import Entity, read_entities, tag_entities
from ingest.sentences import sentence_spans

# Clauses end at ，；： (full or half width), but not inside a number ("2,173", "11:00").
_CLAUSE = re.compile(r"(?:[^，,：:；;。！？!?]|(?<=\d)[,:](?=\d))+[，,：:；;。！？!?]*")
# Numbers of two digits or more a question names ("1969年9月至1970年4月"): the
# sentence that answers nearly always repeats them.
_QUESTION_NUMBER = re.compile(r"\d{2,}")
_DEFINING = "是指即为"
_NOT_PAIRED = frozenset(" \t\n\r\u3000，。？、！：；,.?!:;（）()《》“”「」")
SENTENCES_READ = 25  # of the passages' sentences, by cosine to the question
CLAUSES_READ = 6  # of those, the nearest whose clauses are candidates too
# Questions whose answer is such an enumeration ("是哪三性", "有哪些措施"): all of it.
_ENUMERATING_TYPES = frozenset({"list", "method"})
_SPAN_CANDIDATES = 8  # best candidates whose spans are considered for the short answer
# Answer types whose spans come from word tags, which miss unknown names.
_GAP_TYPES = frozenset({"person", "place", "organisation", "name"})
# Types whose answer is the name of one person, place or organisation, which
# does not open as a clause does (`not_a_name`): "川工之家APP是谁开发的？" of
# "各市州总工会在川工之家APP先后打造地方特色频道" leaves the gap 先后打造地方
# 特色频道. A verb may open one (就业援助服务站, 快递行业工会联合会).
_NAMED_TYPES = frozenset({"person", "place", "organisation"})
_OPENING_CLAUSES = frozenset("dpcr")
# Besides nouns, what goes on a place phrase: numerals and measure words (三层),
# locatives (内, 境内) and abbreviations.
_PLACE_PHRASE_FLAGS = frozenset({"m", "q", "f", "s", "j"})

READER_FEATURES = (
    "cosine_z",
    "coverage",
    "coverage_gap",
    "sentence_coverage",
    "focus",
    "slot",
    "slot_gap",
    "typed",
    "typed_slot",
    "typed_near_slot",
    "unit",
    "rank",
    "clause",
    "length",
    "question_numbers",
    "starts_with_focus",
    "defines_focus",
    "position",
    "left_context",
    "right_context",
    "bigrams",
    "cosine_rank",
    "title",
)
SPAN_FEATURES = (
    "candidate",
    "fit",
    "alone",
    "near_slot",
    "near_focus",
    "after_slot",
    "rank",
    "length",
    "in_gap",
    "gap",
    "next_to_question",
)


@dataclass(frozen=True)
class Candidate:
    text: str  # the clause or sentence scored
    sentence: str  # the sentence it belongs to, quoted in the answer
    hit_index: int
    position: int  # sentence position in its passage
    clause: bool
    # The people, places and organisations in `text` (positions within it),
    # when the question asks for one; None: not looked up.
    entities: tuple[Entity, ...] | None = None

    def moved_to(self, hit_index: int) -> Candidate:
        # Direct: dataclasses.replace costs ~10 µs, and a reading has ~100 candidates.
        return Candidate(
            self.text, self.sentence, hit_index, self.position, self.clause, self.entities
        )


@dataclass(frozen=True)
class Reading:
    """The scored candidates of one question, best first, and the short answer."""

    candidates: tuple[Candidate, ...]
    scores: tuple[float, ...]
    short_answer: str = ""
    typed: bool = False  # the best candidate holds a span of the expected type
    short_from: int = -1  # the passage (hit index) the short answer was read in
    short_at: int = -1  # the position of its sentence in that passage
    lists: bool = False  # the question asks for a list or a way: quote enumerations whole
    wants_span: bool = False  # the question asks for a typed fact

    @property
    def best(self) -> float:
        return self.scores[0] if self.scores else 0.0

    def passage_order(self, passages: int) -> list[int]:
        """Passage indices ordered by their best candidate (unread ones last)."""
        best: dict[int, float] = {}
        for c, s in zip(self.candidates, self.scores, strict=True):
            best[c.hit_index] = max(best.get(c.hit_index, -math.inf), s)
        return sorted(range(passages), key=lambda i: -best.get(i, -math.inf))

    def renumbered(self, order: list[int], keep: int) -> Reading:
        """The same reading after the passages were put in `order`, keeping the
        first `keep` of them: no model call, no new features."""
        if order == sorted(order) and all(c.hit_index < keep for c in self.candidates):
            return self  # the usual case: the reader kept the search's order
        new_index = {old: new for new, old in enumerate(order)}
        kept = [
            (c.moved_to(new_index[c.hit_index]), s)
            for c, s in zip(self.candidates, self.scores, strict=True)
            if new_index[c.hit_index] < keep
        ]
        short_from = new_index.get(self.short_from, keep)
        still_read = short_from < keep  # the short answer's passage is among the kept
        return Reading(
            tuple(c for c, _ in kept),
            tuple(s for _, s in kept),
            self.short_answer if still_read else "",
            self.typed,  # the best candidate's passage comes first, so it is kept
            short_from if still_read else -1,
            self.short_at if still_read else -1,
            self.lists,
            self.wants_span,
        )


def candidates_of(
    hits: list[Hit],
    with_entities: bool = False,
    only: set[tuple[int, int]] | None = None,
    split: set[tuple[int, int]] | None = None,
) -> list[Candidate]:
    """The sentences and clauses of the passages; `with_entities`: each with
    the entities its passage names inside it; `only`: just these sentences
    (hit index, sentence position); `split`: the sentences whose clauses are
    candidates (all of them when None)."""
    found = []
    for i, hit in enumerate(hits):
        text = hit.chunk.text
        named = passage_entities(text, hit.chunk.entities) if with_entities else None
        for pos, (start, end) in enumerate(passage_sentences(text)):
            if only is not None and (i, pos) not in only:
                continue
            sentence = text[start:end]
            inside = _inside(named, start, end)
            found.append(Candidate(sentence, sentence, i, pos, False, inside))
            if split is not None and (i, pos) not in split:
                continue
            clauses = [
                (m.start() + len(m.group()) - len(m.group().lstrip()), m.group().strip())
                for m in _CLAUSE.finditer(sentence)
            ]
            if len(clauses) > 1:
                found += [
                    Candidate(c, sentence, i, pos, True, _inside(inside, at, at + len(c)))
                    for at, c in clauses
                    if len(c) >= 4
                ]
    return found


@lru_cache(maxsize=4096)
def passage_sentences(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of the passage's sentences, split once per passage: a
    question reads them for its candidates, its quote and its enumerations,
    and the next question often reads the same passages."""
    return tuple(sentence_spans(text))


@lru_cache(maxsize=4096)
def passage_entities(text: str, stored: str | None) -> tuple[Entity, ...]:
    """The passage's entities as stored with its chunk, or (a chunk indexed
    before they were stored) tagged now, once per passage."""
    return tuple(read_entities(stored, text) if stored is not None else tag_entities(text))


def _inside(entities: tuple[Entity, ...] | None, start: int, end: int) -> tuple[Entity, ...] | None:
    if entities is None:
        return None
    return tuple(
        e._replace(start=e.start - start)
        for e in entities
        if start <= e.start and e.start + len(e.text) <= end
    )


class Reader:
    def __init__(
        self,
        sentence_vectors: Callable[[Hit], np.ndarray],
        term_weights: Callable[[str], dict[str, float]],
        model: RankingModel | None = None,
        span_model: LogisticModel | None = None,
    ) -> None:
        """`sentence_vectors(hit)`: the vectors of the hit's sentences, in order,
        computed when its passage was indexed (no model call here)."""
        self._sentence_vectors = sentence_vectors
        self._term_weights = term_weights
        self.model = model or load_ranker("reader", READER_FEATURES)
        self.span_model = span_model or load_model("spans", SPAN_FEATURES)

    def read(self, q: QuestionAnalysis, hits: list[Hit], query_vector: np.ndarray) -> Reading:
        found, x = self.features(q, hits, query_vector)
        if not found:
            return Reading((), ())
        scores = self.model.score(x)
        order = np.argsort(-scores, kind="stable")
        ranked = tuple(found[i] for i in order)
        ranked_scores = tuple(float(scores[i]) for i in order)
        short, typed, short_from, short_at = "", False, -1, -1
        if q.wants_span:
            typed = bool(q.spans_in(ranked[0].text, ranked[0].entities))
            options, sx = self.span_features(q, ranked[:_SPAN_CANDIDATES], ranked_scores)
            if options:
                probability = self.span_model.probability(sx)
                best = int(np.argmax(probability))
                cuts = self.span_model.thresholds
                shown = cuts.get(f"show_{q.type}", cuts.get("show", 0.5))
                if probability[best] >= shown and not _misnamed(options[best][0].text, q):
                    short = options[best][0].text
                    read_in = ranked[options[best][1]]
                    short_from, short_at = read_in.hit_index, read_in.position
        lists = q.type in _ENUMERATING_TYPES
        return Reading(
            ranked, ranked_scores, short, typed, short_from, short_at, lists, q.wants_span
        )

    # -- features (also used by eval.fit to build training data) ------------

    def features(
        self, q: QuestionAnalysis, hits: list[Hit], query_vector: np.ndarray
    ) -> tuple[list[Candidate], np.ndarray]:
        per_hit = [self._sentence_vectors(hit) @ query_vector for hit in hits]
        # Only the sentences nearest the question are read, and only the nearest
        # of those also clause by clause: the time goes by candidate, and on the
        # fitting splits the best candidate was never a clause of a sentence
        # below the 6th by cosine (README, reader).
        nearest = [
            (i, p)
            for _, i, p in sorted(
                (-float(c), i, p)
                for i, cosines in enumerate(per_hit)
                for p, c in enumerate(cosines)
            )[:SENTENCES_READ]
        ]
        found = candidates_of(hits, q.wants_span, set(nearest), set(nearest[:CLAUSES_READ]))
        if not found:
            return [], np.zeros((0, len(READER_FEATURES)))
        # The cosine enters only as its place among this question's candidates:
        # its scale is the embedding model's (e5 puts most sentences near 0.85,
        # other models elsewhere), and trees split on absolute values.
        cosine = np.array([per_hit[c.hit_index][c.position] for c in found], dtype=float)
        cosine_z = (cosine - cosine.max()) / (cosine.std() + 1e-6)
        rank = np.empty(len(cosine))
        rank[np.argsort(-cosine, kind="stable")] = np.arange(len(cosine))
        weights = self._term_weights(q.text)
        total = sum(weights.values()) or 1.0

        def coverage(text: str) -> float:
            return sum(w for t, w in weights.items() if t in text) / total

        # The heading says what a passage is about (an article's title, a case's
        # organisation and title), which its sentences leave to "他" or "该项目".
        titles = [coverage(h.chunk.header.lower()) for h in hits]
        numbers = tuple(_QUESTION_NUMBER.findall(q.text))
        asked = bigrams(q.before + q.after)
        focus = q.focus[0] if q.focus else ""
        # What depends on the sentence alone, computed once for it and its clauses.
        of_sentence: dict[tuple[int, int], tuple[float, float, float, float]] = {}
        rows = []
        for i, c in enumerate(found):
            key = (c.hit_index, c.position)
            if key not in of_sentence:
                opening = c.sentence.lstrip("（(「“《 ")
                of_sentence[key] = (
                    coverage(c.sentence),
                    share_of(q.focus, c.sentence),
                    float(bool(focus) and opening.startswith(focus)),
                    float(bool(focus) and _defines(opening, focus)),
                )
            sentence_cov, focus_share, opens_with_focus, defines_focus = of_sentence[key]
            typed = q.spans_in(c.text, c.entities) if q.wants_span else []
            aligned = align(c.text, q.before, q.after)
            slot_at = _found_at(c.text, q.slot) if typed else []
            slot = share_of(q.slot, c.text)
            rows.append(
                [
                    cosine_z[i],
                    coverage(c.text) if c.clause else sentence_cov,
                    0.0,
                    sentence_cov,
                    focus_share,
                    slot,
                    0.0,
                    float(bool(typed)),
                    float(bool(typed)) * slot,
                    max((_nearness(s, slot_at) for s in typed), default=0.0),
                    float(any(s.fit == 1.0 for s in typed)),
                    1.0 / (c.hit_index + 1),
                    float(c.clause),
                    math.log1p(len(c.text)) / 5,
                    share_of(numbers, c.text),
                    opens_with_focus,
                    defines_focus,
                    1.0 / (c.position + 1),
                    aligned.left,
                    aligned.right,
                    # A pair of characters is in the text exactly when it is one of its pairs.
                    sum(pair in c.text for pair in asked) / len(asked) if asked else 0.0,
                    1.0 / (rank[i] + 1),
                    titles[c.hit_index],
                ]
            )
        x = np.asarray(rows)
        # Gaps to the best candidate: what matters is being the best of this question.
        for gap, of in ((2, 1), (6, 5)):
            x[:, gap] = x[:, of] - x[:, of].max()
        return found, x

    def span_features(
        self, q: QuestionAnalysis, ranked: tuple[Candidate, ...], scores: tuple[float, ...]
    ) -> tuple[list[tuple[Span, int]], np.ndarray]:
        """Typed spans of the best candidates, not already in the question. A span
        seen in a sentence and again in its clause is an option twice: the clause
        describes it more closely (fewer rival spans, nearer slot words)."""
        options, rows = [], []
        for rank, (c, score) in enumerate(zip(ranked, scores, strict=False)):
            found = q.spans_in(c.text, c.entities)
            typed = [_at_asked_level(s, q) for s in (_without_question(s, q) for s in found) if s]
            if q.measure:  # set for number questions only
                typed = [_in_asked_dimension(s, c.text, q.measure) for s in typed]
            gap = align(c.text, q.before, q.after).gap
            if gap and q.type in _GAP_TYPES:
                gap = _from_name_start(c.text, gap, q, c.entities)
            gap = gap and _without_question(gap, q)
            slot_at, focus_at = _found_at(c.text, q.slot), _found_at(c.text, q.focus)
            if gap and q.type == "place" and not q.asks_country:  # a country is only itself
                typed += _place_phrase(gap, typed)
            # jieba's tags cut unknown names short ("袁丽" of 袁丽嫦): the gap the
            # question's own words leave in the sentence is a candidate too.
            # One character is never a whole name ("所" of "明圣王后所为").
            if gap and q.type in _GAP_TYPES and len(gap.text) > 1:
                typed += [gap] if all(s.text != gap.text for s in typed) else []
            for s in typed:
                options.append((s, rank))
                rows.append(
                    [
                        score,
                        s.fit,
                        1.0 / len(typed),
                        _nearness(s, slot_at),
                        _nearness(s, focus_at),
                        float(any(at < s.start for at, _ in slot_at)),
                        1.0 / (rank + 1),
                        math.log1p(len(s.text)) / 3,
                        float(gap is not None and _within(s, gap)),
                        float(s is gap),
                        _next_to_question(c.text, s, q),
                    ]
                )
        return options, np.asarray(rows).reshape(-1, len(SPAN_FEATURES))


def _from_name_start(
    text: str, gap: Span, q: QuestionAnalysis, entities: tuple[Entity, ...] | None
) -> Span:
    """The gap from the start of the name it opens in, when what comes before it
    in the name is the question's subject: "首钢是什么的简称" in "首钢集团有限公司，
    简称首钢" leaves 集团有限公司, and the name asked for is 首钢集团有限公司."""
    if not any(text.endswith(focus, 0, gap.start) for focus in q.focus):
        return gap  # most gaps: tagging the text would find nothing to join
    found = tag_entities(text) if entities is None else entities
    for e in found:
        if e.start < gap.start < e.start + len(e.text) and text[e.start : gap.start] in q.focus:
            return Span(text[e.start : gap.start + len(gap.text)], e.start, gap.fit)
    return gap


def _place_phrase(gap: Span, typed: list[Span]) -> list[Span]:
    """The gap as a place, when it opens with a tagged place and goes on in nouns
    only: 碧海 + 蓝天基座三层商场, 香港屯门 + 兆康路兆康苑内 name a place within
    the first, which the dictionary does not know whole. A verb after the place
    ("北京召开并通过决议") ends it: the rest is what happened there."""
    head = next((s for s in typed if s.start == gap.start and len(s.text) < len(gap.text)), None)
    if head is None:
        return []
    rest = jieba.posseg.lcut(gap.text[len(head.text) :], HMM=False)
    if all(p.flag.startswith("n") or p.flag in _PLACE_PHRASE_FLAGS for p in rest):
        return [Span(gap.text, gap.start, head.fit)]
    return []


def _without_question(span: Span, q: QuestionAnalysis) -> Span | None:
    """The span without the question's own words at its edges: a piece of the
    question after its asking phrase that ends the span ("莫斯科附近" for "部署在
    哪个区域附近" -> 莫斯科; "2006年2月14日" for "哪一年的2月14日" -> 2006年).
    None: nothing else is left ("「牛佬」" of "牛佬原名叫什么" is what it asks
    about, not its answer)."""
    text = span.text
    if text.strip(QUOTE_MARKS) in q.text:
        return None
    if q.type == "number":
        return span  # "130多万人次" for "多少人次": a number keeps its unit
    # Only after it: the words before it name what is asked about, and an
    # answer may well share them ("凉茶店" for "凉茶舖又叫什么"). Nor the word
    # right after the asking phrase: it names the kind asked for, which the
    # answer may end with ("耶鲁大学" for "毕业于哪所大学").
    end = next((n for n in range(len(text) - 1, 1, -1) if text[-n:] in q.after[1:]), 0)
    kept = text[: len(text) - end]
    return Span(kept, span.start, span.fit) if len(kept) > 1 or kept.isdigit() else None


def _at_asked_level(span: Span, q: QuestionAnalysis) -> Span:
    """A country asked for is the country, not the district the passage names
    after it: "新加坡欧南区" -> 新加坡, the first of the place's dictionary words."""
    if not q.asks_country:
        return span
    words = jieba.posseg.lcut(span.text, HMM=False)
    if len(words) > 1 and words[0].flag == "ns":
        return Span(words[0].word, span.start, span.fit)
    return span


def _in_asked_dimension(span: Span, text: str, measure: str) -> Span:
    """A length the passage gives as another dimension ("深80米" asked "有多长")
    fits loosely, as a calendar year does for a count."""
    if span.fit == 1.0 and of_another_dimension(text, span, measure):
        return Span(span.text, span.start, 0.5)
    return span


def _misnamed(span: str, q: QuestionAnalysis) -> bool:
    """The best span of a question asking for a person, place or organisation
    is not a name (`not_a_name`): no short answer is better than a wrong one."""
    return q.type in _NAMED_TYPES and not_a_name(span)


def not_a_name(text: str) -> bool:
    """The text opens as a clause does, not as a name: with an adverb, a
    preposition, a conjunction or a pronoun of the dictionary (曾经担任, 他们的
    老师), or a time word before a verb (先后打造地方特色频道; a time word
    before a noun opens names: 现代汽车, 明治神宫). Tagged without the HMM, as
    passages are (ingest/entities.py), and an opening single character left
    alone: the dictionary cuts a name it lacks into them, tagged as anything
    (莫/瓦/桑 of 莫瓦桑)."""
    words = jieba.posseg.lcut(text, HMM=False)
    if not words or len(words[0].word) < 2:
        return False
    before_verb = len(words) > 1 and words[1].flag == "v"
    return words[0].flag in _OPENING_CLAUSES or (words[0].flag == "t" and before_verb)


def _next_to_question(text: str, span: Span, q: QuestionAnalysis) -> float:
    """1 when the span sits where the question's asking phrase sits: right
    before the question's words after it ("140名三秦工匠" for "多少名三秦工匠")
    or right after its words before it."""
    end = span.start + len(span.text)
    after, before = q.after[:2], q.before[-2:]
    return float(
        (len(after) == 2 and text.startswith(after, end))
        or (len(before) == 2 and text[: span.start].endswith(before))
    )


def bigrams(text: str) -> set[str]:
    """The text's character pairs, without punctuation: word-cutting free overlap."""
    pairs = itertools.pairwise(text)
    return {a + b for a, b in pairs if a not in _NOT_PAIRED and b not in _NOT_PAIRED}


def _defines(opening: str, focus: str) -> bool:
    """The sentence opens with the focus and defines it within 25 characters:
    "放线菌酮是一种…", "标准杆，是…"."""
    if not opening.startswith(focus):
        return False
    return any(ch in _DEFINING for ch in opening[len(focus) : len(focus) + 26])


def share_of(words: tuple[str, ...], text: str, empty: float = 0.0) -> float:
    """The share of `words` found in `text` (`empty` when there are none)."""
    return sum(w in text for w in words) / len(words) if words else empty


def _within(span: Span, outer: Span) -> bool:
    return outer.start <= span.start and span.start + len(span.text) <= outer.start + len(
        outer.text
    )


def _found_at(text: str, words: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of the first occurrence of each of `words` found in `text`."""
    found = []
    for w in words:
        at = text.find(w)
        if at >= 0:
            found.append((at, at + len(w)))
    return found


def _nearness(span: Span, words_at: list[tuple[int, int]]) -> float:
    """1 when a word (found at `words_at`) sits right next to the span, falling
    with the distance. A sentence listing a hundred places has a hundred spans:
    the words are looked up once, not once per span."""
    end = span.start + len(span.text)
    distances = [
        max(span.start - stop if at < span.start else at - end, 0) for at, stop in words_at
    ]
    return 1.0 / (1.0 + min(distances) / 4) if distances else 0.0
