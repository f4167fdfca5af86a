"""Is the answer in the passages? One calibrated decision over generic signals.

The signals are measured on the retrieved passages and the reader's scores:

* coverage - the IDF-weighted share of the question's words in the top
             passages, and of its two rarest words in the first passage;
* unseen   - the IDF-weighted share of its words that no passage of the
             collection holds ("魏玩是谁的妻子？" of a collection without 魏玩);
* focus    - whether the thing the question is about appears there;
* places   - whether a place the question names is missing (places come from
             the documents' own vocabulary and jieba's place tags, not a list);
* numbers  - whether a number the question names ("2019年", "第八届") is
             missing from the passages: asked about an edition or a year the
             documents do not cover, they answer about another one;
* dense    - the best cosine and its margin over the next passages;
* lexical  - whether BM25 ranks the first passage among its own top three;
* reader   - the reader's best score, and whether its best clause holds a span
             of the type the question asks for.

A logistic model fitted by `python -m eval.fit` on two corpora turns them into
a probability; the cut-off for answering was chosen on the fitting split (a
lower one, "llm", only stops clear no-evidence questions before a model that
makes its own refusal).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jieba
import numpy as np

from answer.fitted import LogisticModel, load_model
from answer.question import ASKING, CJK_CHAR, QuestionAnalysis, function_words, tagged
from answer.reader import Reading, share_of
from answer.spans import spans
from index.bm25 import is_content_word
from index.collection import Collection
from index.places import CJK_WORD, dictionary_spellings, pinyin_spellings, spelled_places
from index.searcher import Hit

TOP_PASSAGES = 3
# "哪两种" and "哪五个" ask for a list; the tokenizer splits off the count, which the
# passage does not repeat (it names the items).
_COUNT = re.compile(r"[\d一二两三四五六七八九十百千]+[个种项类名家位条件批所支届次]")

# What jieba's dictionary keeps inside some words around the one asked about
# (在建设中, 园里, 此剧): looked for without them when no passage holds the whole.
_PREPOSITIONS = "在从于向对把被将给"
_POINTING = "此该其这那"  # "此剧的制作人": the drama the passage is about
_LOCATIVES = "里中内上下外"

_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")
# A number that picks out one thing: a year or a count in digits, an edition or
# a round in numerals ("第八届", "三期"). Not other ordinals: "第二次世界大战" is
# also "二战", "第一次" means "for the first time"; nor "一批", "a batch of".
_NUMERALS = "〇一二三四五六七八九十百千"
QUESTION_NUMBER = re.compile(
    r"\d+(?:\.\d+)?|第[一二三四五六七八九十]+[届期批轮]|[二三四五六七八九十]+[届期批轮]"
)
_QUESTION_CACHE = 4096
FEATURES = (
    "coverage",
    "coverage_top1",
    "rare_top1",
    "unseen",
    "focus",
    "missing_places",
    "missing_numbers",
    "dense_top",
    "dense_margin",
    "bm25_agrees",
    "reader_best",
    "typed",
    "wants_span",
    "slot_top",
    "asks_unit",
    "unit_found",
)
_UNIT_CANDIDATES = 8  # best candidates searched for a number with the asked unit


def is_question_frame(term: str) -> bool:
    """Words that frame a question rather than name what it is about: "哪一年",
    "几位", "干什么", "多长" ask for the answer, which the passage states in other words."""
    return term in function_words() or bool(ASKING.search(term))


@dataclass(frozen=True)
class Evidence:
    signals: tuple[float, ...]  # in FEATURES order
    probability: float


class AnswerabilityJudge:
    def __init__(self, collection: Collection, model: LogisticModel | None = None) -> None:
        self._collection = collection
        self.model = model or load_model("answerability", FEATURES)
        # The corpus's own places: its vocabulary's place words and organisations'
        # places, as collected for the pinyin aliases at build time.
        self._places = collection.places()
        self._longest_place = max(map(len, self._places), default=0)
        self._spellings = pinyin_spellings(self._places)
        # Asked for three or four times per question (reader, judge): computed once.
        self.places_in = lru_cache(maxsize=_QUESTION_CACHE)(self._places_in)
        self.term_weights = lru_cache(maxsize=_QUESTION_CACHE)(self._term_weights)

    def _places_in(self, question: str) -> tuple[str, ...]:
        """Places a question names: the corpus's own (also spelled in pinyin) and
        any word jieba tags as a place or that spells one in pinyin, so a place
        the corpus never mentions still counts."""
        # Substrings of the question looked up, not every place scanned: a
        # large collection knows tens of thousands of places.
        found = [
            question[i:j]
            for i in range(len(question))
            for j in range(i + 1, min(len(question), i + self._longest_place) + 1)
            if question[i:j] in self._places
        ]
        found += spelled_places(question, self._spellings)
        found += [w for w, flag in tagged(question) if flag == "ns" and CJK_WORD.match(w)]
        # A capitalised word spelling a place no document names ("Shanghai").
        unknown = [w for w in _CAPITALISED.findall(question) if w.lower() not in self._spellings]
        if unknown:
            found += spelled_places(" ".join(unknown), dictionary_spellings())
        # '北京市' also contains '北京': keep the longest names only.
        return tuple(sorted({p for p in found if not any(p != q and p in q for q in found)}))

    def threshold(self, llm: bool = False) -> float:
        return self.model.thresholds["llm" if llm else "answer"]

    def assess(self, q: QuestionAnalysis, hits: list[Hit], reading: Reading) -> Evidence:
        signals = self.signals(q, hits, reading)
        return Evidence(signals, float(self.model.probability(np.asarray(signals))[0]))

    def signals(self, q: QuestionAnalysis, hits: list[Hit], reading: Reading) -> tuple[float, ...]:
        text = passages_text(hits)
        first = hits[0].chunk.index_text.lower() if hits else ""
        places = self.places_in(q.text)
        weights = self.term_weights(q.text, known_pieces=True)
        total = sum(weights.values()) or 1.0
        rare = sorted(weights, key=weights.get, reverse=True)[:2]
        dense = [h.dense_score or 0.0 for h in hits]
        return (
            sum(w for t, w in weights.items() if t in text) / total,
            sum(w for t, w in weights.items() if t in first) / total,
            sum(t in first for t in rare) / len(rare) if rare else 1.0,
            sum(w for t, w in weights.items() if self._unseen(t, text)) / total,
            sum(f.lower() in text for f in q.focus) / len(q.focus) if q.focus else 1.0,
            float(any(p not in text for p in places)),
            float(any(not states_number(text, n) for n in QUESTION_NUMBER.findall(q.text))),
            max(dense, default=0.0),
            (dense[0] - float(np.mean(dense[1:5]))) if len(dense) > 1 else 0.0,
            float(bool(hits) and hits[0].bm25_rank is not None and hits[0].bm25_rank <= 3),
            reading.best,
            float(reading.typed),
            float(q.wants_span),
            share_of(q.slot, reading.candidates[0].sentence, 1.0) if reading.candidates else 0.0,
            float(bool(q.asked_unit)),
            float(bool(q.asked_unit) and _unit_found(q, reading)),
        )

    def missing_nouns(self, question: str, hits: list[Hit]) -> tuple[str, ...]:
        """The question's common nouns that no passage holds, but the attribute
        it asks for ("什么季节": the answer says 春季): told to the user when the
        question is answered anyway, from passages about something near it
        ("哪个工会搞了职工书屋？" of a collection without 书屋)."""
        read = passages_text(hits)
        attribute = _asked_attribute(question)
        return tuple(
            dict.fromkeys(
                w
                for w, flag in tagged(question)
                if flag == "n"
                and w not in attribute
                and not is_question_frame(w)
                and jieba.dt.FREQ.get(w)  # not a word jieba's HMM made up
                and self._unseen(w.lower(), read)
            )
        )

    def _unseen(self, term: str, read: str) -> bool:
        """No passage holds the word: none of the index's, counted by its words,
        and not the text of the passages read (the index may cut it otherwise:
        "锦地罗是" into 锦地/罗是), nor shortened from words they hold (日活 for
        日均活跃, `_abbreviates`). Single characters are left out: BM25 keeps "件"
        only inside "800余件", so its count of passages says nothing."""
        return (
            len(term) > 1
            and term not in read
            and self._collection.doc_freq(term) == 0
            and not _abbreviates(term, read)
        )

    def _bare(self, word: str) -> str:
        """A word no passage holds without the preposition or the pointing word
        before it or the locative after it, which jieba's dictionary keeps inside
        some words: "在建设中" asks about 建设; "园里" about 园 and "此剧" about 剧
        (one character: no evidence either way). A word passages hold stays
        whole (集中, 网上)."""
        if len(word) < 2 or self._collection.doc_freq(word):
            return word
        opened = word[0] in _POINTING or (word[0] in _PREPOSITIONS and len(word) > 2)
        bare = word[1:] if opened else word
        return bare[:-1] if len(bare) > 1 and bare[-1] in _LOCATIVES else bare

    def _known_pieces(self, word: str) -> list[str]:
        """A word no passage holds, cut into the longest words passages do hold,
        when one of them covers most of it. jieba's HMM glues a name its
        dictionary lacks to the next character ("黄华麒是哪个大学毕业的" gives
        黄华麒是, "魏舒史称什么" gives 魏舒史), and the glued word would count as
        missing though the passages name 黄华麒. A dictionary word stays whole:
        服务卡 missing from every passage is evidence, 服务 and 卡 are not."""
        if (
            len(word) < 3
            or not CJK_CHAR.match(word)
            or jieba.dt.FREQ.get(word)  # a dictionary word is a word, found or not
            or self._collection.doc_freq(word)
        ):
            return [word]
        pieces, i = [], 0
        while i < len(word):
            j = next(
                (j for j in range(len(word), i + 1, -1) if self._collection.doc_freq(word[i:j])),
                i + 1,
            )
            pieces.append(word[i:j])
            i = j
        return pieces if 2 * max(map(len, pieces)) >= len(word) and len(pieces) > 1 else [word]

    def _term_weights(self, question: str, known_pieces: bool = False) -> dict[str, float]:
        """IDF weights of the question's words. Whole words (jieba's accurate
        mode), not search-mode fragments, so '北京市总工会' counts once; place
        words are left to the place check; function words (stopwords-iso) and
        question words are not evidence; an English word absent from the
        corpus says nothing about Chinese passages and is skipped.
        `known_pieces`: a word jieba made up that no passage holds is cut into
        words passages hold (`_known_pieces`). Only for answerability: the
        reader refitted on the cut words read worse on the fitting split."""
        places = self.places_in(question)
        n = len(self._collection)
        weights = {}
        previous = ""
        words = _unknown_names_whole(jieba.lcut(question.lower()))
        if known_pieces:
            words = [piece for w in words for piece in self._known_pieces(self._bare(w))]
        for word in words:
            # "建了" asks about "建": aspect particles are not evidence.
            term = word[:-1] if len(word) > 1 and word[-1] in "了过着" else word
            asked, previous = previous, term
            if not is_content_word(term) or is_question_frame(term):
                continue
            if ASKING.search(asked) and _COUNT.fullmatch(term):
                continue
            if any(p in term for p in places):
                continue
            df = self._collection.doc_freq(term)
            if df == 0 and term.isascii():
                continue
            weights[term] = math.log(1 + n / (df + 0.5))
        return weights


# Words between an attribute and the question word: "外形是怎样的", "危害有哪些".
_LINKING = frozenset("是 的 有 为 叫 了".split())


def _asked_attribute(question: str) -> set[str]:
    """The nouns naming what the question asks of its subject: those right
    after its question word ("什么季节", "哪些优点") and those right before it
    but linking words ("外貌特征是什么", "不良影响有哪些"); a question ending in
    是 asks of the nouns before it ("主办方是？")."""
    words = tagged(question)
    at = next((i for i, (w, _) in enumerate(words) if ASKING.search(w)), None)
    if at is None:  # "主办方是？": 是, then only punctuation
        at = next(
            (
                i
                for i, (w, _) in enumerate(words)
                if w == "是" and {f for _, f in words[i + 1 :]} <= {"x"}
            ),
            None,
        )
    if at is None:
        return set()
    before = at - 1
    while before >= 0 and words[before][0] in _LINKING:
        before -= 1
    nouns = set()
    for side in (range(before, -1, -1), range(at + 1, len(words))):
        for i in side:
            if not words[i][1].startswith("n"):
                break
            nouns.add(words[i][0])
    return nouns


def _abbreviates(term: str, read: str) -> bool:
    """A two-character word that shortens words of the passages read: its
    characters in order, one or two apart within a sentence (日活 for 日均活跃,
    川工 for 四川省总工会)."""
    if len(term) != 2 or not CJK_CHAR.match(term):
        return False
    first, second = map(re.escape, term)
    return re.search(f"{first}[^，。；！？\n]{{1,2}}{second}", read) is not None


def passages_text(hits: list[Hit]) -> str:
    """The text of the top passages, as the signals read it."""
    return "\n".join(h.chunk.index_text for h in hits[:TOP_PASSAGES]).lower()


def _unknown_names_whole(words: list[str]) -> list[str]:
    """Runs of single Chinese characters that are not function words, joined:
    jieba cuts a name its dictionary lacks into characters (萱/侬/律), and a
    single character says nothing about a passage (see _unseen), the name does."""
    joined: list[str] = []
    run = ""
    for word in [*words, ""]:
        if len(word) == 1 and CJK_CHAR.match(word) and word not in function_words():
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        if word:
            joined.append(word)
    return joined


def states_number(text: str, number: str) -> bool:
    """The text holds the number as a whole number ("12" is not in "2012", "八"
    not in "十八"), in digits or in Chinese numerals ("第八届" is also "第8届",
    "23" also "二十三", "2023" also "二〇二三"), full-width digits as well. A unit
    may follow: "12千米" states 12."""
    text, number = unicodedata.normalize("NFKC", text), unicodedata.normalize("NFKC", number)
    core = number.strip("第届期批轮")
    prefix, suffix = number[: number.index(core)], number[number.index(core) + len(core) :]
    forms = {core, _in_digits(core) if not core[0].isdigit() else _in_chinese(core)} - {""}
    for form in forms:
        # The number's own kind of digits must not go on before or after it
        # (a full stop may end the sentence: "founded in 2012.").
        before, after = (
            (r"(?<!\d)(?<!\d\.)", r"(?!\.?\d)")
            if form[0].isdigit()
            else (f"(?<![{_NUMERALS}])", f"(?![{_NUMERALS}])")
        )
        pattern = before + re.escape(prefix + form + suffix) + after
        if re.search(pattern, text):
            return True
    return False


def _in_digits(numeral: str) -> str:
    """Chinese numerals up to 99, or digit by digit, in digits ("十八" -> "18",
    "一九九五" -> "1995"); "" for other text."""
    if any(c not in _NUMERALS[:11] for c in numeral):
        return ""
    if "十" not in numeral:
        return "".join(str(_NUMERALS.index(c)) for c in numeral)
    tens, _, ones = numeral.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return ""
    return str((_NUMERALS.index(tens) if tens else 1) * 10 + (_NUMERALS.index(ones) if ones else 0))


def _in_chinese(digits: str) -> str:
    """1–99 in Chinese numerals ("23" -> "二十三"), a year digit by digit
    ("2023" -> "二〇二三"); "" otherwise."""
    if len(digits) == 4 and digits.isdigit():
        return "".join(_NUMERALS[int(d)] for d in digits)
    if not digits.isdigit() or not 0 < int(digits) < 100:
        return ""
    tens, ones = divmod(int(digits), 10)
    return (
        (_NUMERALS[tens] if tens > 1 else "")
        + ("十" if tens else "")
        + (_NUMERALS[ones] if ones else "")
    )


def _unit_found(q: QuestionAnalysis, reading: Reading) -> bool:
    """A number with the unit the question asks for ("多少亿元" -> "120亿元") in
    one of the best candidates: its absence is a strong sign the detail is not there."""
    return any(
        s.fit == 1.0
        for c in reading.candidates[:_UNIT_CANDIDATES]
        for s in spans(c.text, "number", q.asked_unit)
    )
