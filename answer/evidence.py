"""Is the answer in the passages? Decide from evidence, not from a guess.

Three signals, each measured on the retrieved passages:

* places   - a province or city the question names must appear in the top
             passages ("上海…" against a corpus without 上海 is unanswerable);
* coverage - the share of the question's terms, weighted by how rare they are
             in the corpus (IDF), found in the top passages;
* dense    - the cosine similarity of the best passage to the question.

The thresholds are fitted by `python -m eval.calibrate` on eval/sets/dev.jsonl
(answerable and unanswerable questions) and stored as settings defaults.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

import jieba
import stopwordsiso

from index.bm25 import Bm25Index, is_content_word
from index.places import GAZETTEER, organisation_places, pinyin_spellings, spelled_places
from index.searcher import Hit
from ingest.records import Chunk

TOP_PASSAGES = 3
# Words that frame a question rather than name what it is about: "哪一年",
# "几位", "干什么" ask for the answer, which the passage states in other words.
_ASKING = re.compile(r"[哪几啥谁怎]|什么|多少|如何|是否")
# "哪两种" and "哪五个" ask for a list; the tokenizer splits off the count, which the
# passage does not repeat (it names the items).
_COUNT = re.compile(r"[\d一二两三四五六七八九十百千]+[个种项类名家位条件批所支届次]")


@cache
def _function_words() -> frozenset[str]:
    return frozenset(stopwordsiso.stopwords("zh"))


def is_question_frame(term: str) -> bool:
    return term in _function_words() or bool(_ASKING.search(term))


@dataclass(frozen=True)
class Evidence:
    dense_top: float
    coverage: float
    missing_places: tuple[str, ...]

    def answerable(self, min_coverage: float, min_dense: float) -> bool:
        return (
            not self.missing_places
            and self.coverage >= min_coverage
            and self.dense_top >= min_dense
        )


class EvidenceJudge:
    def __init__(self, bm25: Bm25Index, chunks: list[Chunk]) -> None:
        self._bm25 = bm25
        orgs = {c.organisation for c in chunks if c.organisation}
        self._places = GAZETTEER | organisation_places(orgs)
        self._spellings = pinyin_spellings(self._places)

    def places_in(self, question: str) -> list[str]:
        """Places a question names, in Chinese or in pinyin/English."""
        found = [p for p in self._places if p in question]
        found += spelled_places(question, self._spellings)
        # '北京市' also contains '北京': keep the longest names only.
        return sorted({p for p in found if not any(p != q and p in q for q in found)})

    def assess(self, question: str, hits: list[Hit]) -> Evidence:
        top = hits[:TOP_PASSAGES]
        text = "\n".join(h.chunk.index_text for h in top).lower()
        places = self.places_in(question)
        missing_places = tuple(p for p in places if p not in text)
        weights = self.term_weights(question, places)
        present = {t for t in weights if t in text}
        total = sum(weights.values())
        coverage = sum(weights[t] for t in present) / total if total else 1.0
        dense_top = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
        return Evidence(dense_top, coverage, missing_places)

    def term_weights(self, question: str, places: list[str] | None = None) -> dict[str, float]:
        """IDF weights of the question's words. Whole words (jieba's accurate
        mode), not search-mode fragments, so '北京市总工会' counts once; place
        words are left to the place check; function words (stopwords-iso) and
        question words are not evidence; an English word absent from the
        corpus says nothing about Chinese passages and is skipped."""
        places = self.places_in(question) if places is None else places
        n = self._bm25.n_docs
        weights = {}
        previous = ""
        for word in jieba.lcut(question.lower()):
            # "建了" asks about "建": aspect particles are not evidence.
            term = word[:-1] if len(word) > 1 and word[-1] in "了过着" else word
            asked, previous = previous, term
            if not is_content_word(term) or is_question_frame(term):
                continue
            if _ASKING.search(asked) and _COUNT.fullmatch(term):
                continue
            if any(p in term for p in places):
                continue
            df = self._bm25.document_frequency(term)
            if df == 0 and term.isascii():
                continue
            weights[term] = math.log(1 + n / (df + 0.5))
        return weights
