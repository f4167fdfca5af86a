"""What the answer quotes: the quote model's choice of sentences, enumerations
and the [n] that cite them."""

import numpy as np

from answer.fitted import LogisticModel
from answer.quoting import QUOTE_FEATURES, Numbering, Quoter, options
from answer.reader import Reading, candidates_of
from index.searcher import Hit
from ingest.records import Chunk

PASSAGE = "甲的第一句话。甲的第二句话。甲的第三句话。甲的第四句话。甲的第五句话。"


def _hit(text, cid="c"):
    return Hit(Chunk(cid, text, "a.txt", "/a.txt", "北京市总工会", "深化双沟通", 1, 0), 0.5)


def _quoter(cut: float = 0.5, most: int = 6) -> Quoter:
    """A stand-in for the fitted model (weights set here, to know the answer):
    a sentence is the likelier the nearer its score to the best one's,
    P = sigmoid(2 - score_gap): at the cut-off one half, within 2 of the best."""
    coef = tuple(-1.0 if f == "score_gap" else 0.0 for f in QUOTE_FEATURES)
    return Quoter(most, LogisticModel(QUOTE_FEATURES, coef, 2.0, {"quote": cut}))


def _reading(hits, order, scores, **kw):
    found = {c.text: c for c in candidates_of(hits)}
    return Reading(tuple(found[t] for t in order), scores, **kw)


def test_the_quote_is_the_best_sentence_and_the_likely_sentences_of_its_passage():
    """The best sentence always; another of its passage when the model gives it
    the cut-off; in reading order; never a sentence of another passage, however
    well scored: the [n] stays the one passage's."""
    hits = [_hit(PASSAGE, cid="a"), _hit("乙的一句话。", cid="b")]
    order = ["甲的第四句话。", "乙的一句话。", "甲的第一句话。", "甲的第五句话。", "甲的第三句话。"]
    reading = _reading(hits, order, (5.0, 4.5, 3.5, 2.0, 1.0))
    text, citations = _quoter().compose(reading, hits)
    assert text == "甲的第一句话。甲的第四句话。[1]"  # gaps 1.5 in, 3.0 and 4.0 out
    assert [c.hit.chunk.id for c in citations] == ["a"]
    # A lower cut-off (P >= 0.26: within 3 of the best) takes the fifth too.
    assert (
        _quoter(cut=0.26).compose(reading, hits)[0]
        == "甲的第一句话。甲的第四句话。甲的第五句话。[1]"
    )
    # At most `most` sentences, the likeliest first.
    assert _quoter(cut=0.0, most=2).compose(reading, hits)[0] == "甲的第一句话。甲的第四句话。[1]"
    # Two quoted sentences one apart bring the one between: the quote reads on.
    order = ["甲的第三句话。", "甲的第一句话。", "甲的第五句话。"]
    bridged = _reading(hits, order, (5.0, 4.0, 0.0))
    assert _quoter().compose(bridged, hits)[0] == "甲的第一句话。甲的第二句话。甲的第三句话。[1]"


def test_the_sentence_the_short_answer_was_read_in_is_always_quoted():
    """The bold fact is one the user can read, with its [n]: in the best
    sentence's passage it joins the quote in reading order; found in another
    passage, that passage's sentence follows under its own number."""
    hits = [_hit(PASSAGE, cid="a"), _hit("乙的一句话。乙说了三件。", cid="b")]
    order = ["甲的第二句话。", "乙的一句话。", "甲的第五句话。"]
    same = _reading(hits, order, (5.0, 1.0, 0.0), short_answer="五", short_from=0, short_at=4)
    assert _quoter().compose(same, hits)[0] == "甲的第二句话。甲的第五句话。[1]"
    other = _reading(hits, order, (5.0, 1.0, 0.0), short_answer="三件", short_from=1, short_at=1)
    text, citations = _quoter().compose(other, hits)
    assert text == "甲的第二句话。[1]乙说了三件。[2]"
    assert [c.hit.chunk.id for c in citations] == ["a", "b"]
    # Already quoted, or no short answer: the quote is the model's alone.
    quoted = _reading(hits, order, (5.0, 1.0, 0.0), short_answer="二", short_from=0, short_at=1)
    assert _quoter().compose(quoted, hits)[0] == "甲的第二句话。[1]"
    assert _quoter().compose(_reading(hits, order, (5.0, 1.0, 0.0)), hits)[0] == "甲的第二句话。[1]"


def test_a_sentence_the_reader_did_not_score_counts_as_below_every_one_it_did():
    hits = [_hit(PASSAGE, cid="a")]
    reading = _reading(hits, ["甲的第二句话。", "甲的第五句话。"], (3.0, -1.0), short_answer="二")
    positions, x = options(reading, hits)
    assert positions == [0, 2, 3, 4]  # every other sentence of the passage
    column = dict(zip(QUOTE_FEATURES, x.T, strict=True))
    assert column["score_gap"].tolist() == [5.0, 5.0, 5.0, 4.0]  # unread: best - (lowest - 1)
    assert column["rank"].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert column["next"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert set(column["short_answer"]) == {1.0}
    assert options(_reading(hits, ["甲的第二句话。"], (3.0,)), hits)[1].shape == (4, 5)


def test_a_list_question_gets_the_whole_enumeration():
    """Official documents list measures as "一是…二是…三是…": asked for a list or
    a way, the answer quotes every item, not the best one and its nearest rivals."""
    passage = "总体情况良好。一是抓政治性。举例说明。二是抓先进性。三是抓群众性。其一，另一组。"
    hits = [_hit(passage, cid="a")]
    order = ["二是抓先进性。", "举例说明。", "总体情况良好。"]
    listing = _reading(hits, order, (3.0, 2.0, 1.0), lists=True)
    items = "一是抓政治性。二是抓先进性。三是抓群众性。[1]"
    assert _quoter().compose(listing, hits)[0] == items
    # Any other question keeps the likely sentences; so does a best sentence outside an enumeration.
    other = Reading(listing.candidates, listing.scores)
    bridged = "总体情况良好。一是抓政治性。举例说明。二是抓先进性。[1]"  # the sentence between too
    assert _quoter().compose(other, hits)[0] == bridged
    plain = ["举例说明。", "二是抓先进性。", "总体情况良好。"]
    outside = _reading(hits, plain, (2.0, 1.0, -3.0), lists=True)
    assert _quoter().compose(outside, hits)[0] == "举例说明。二是抓先进性。[1]"


def test_no_candidates_no_quote():
    assert _quoter().quotes(Reading((), ()), []) == []


def test_compose_quotes_whole_sentences_numbered_by_first_use():
    hits = [
        _hit("甲句话在此。", cid="a"),
        _hit("乙句话在此。", cid="b"),
        _hit("丙句话，丁句话。", cid="c"),
    ]
    numbering = Numbering()
    first = numbering.mark([("丙句话，丁句话。", hits[2]), ("甲句话在此。", hits[0])])
    assert first == "丙句话，丁句话。[1]甲句话在此。[2]"
    # A later part of a compound answer: passage a keeps its number.
    second = numbering.mark([("乙句话在此。", hits[1]), ("甲句话在此。", hits[0])])
    assert second == "乙句话在此。[3]甲句话在此。[2]"
    assert [(c.n, c.hit.chunk.id, c.quotes) for c in numbering.citations()] == [
        (1, "c", ("丙句话，丁句话。",)),
        (2, "a", ("甲句话在此。",)),
        (3, "b", ("乙句话在此。",)),
    ]


def test_the_fitted_features_are_finite_for_a_one_sentence_passage():
    hits = [_hit("只有一句话在此。")]
    positions, x = options(_reading(hits, ["只有一句话在此。"], (1.0,)), hits)
    assert positions == [] and x.shape == (0, len(QUOTE_FEATURES)) and np.isfinite(x).all()
