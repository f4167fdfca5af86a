"""The fitting command's pieces: labels, weights, cut-offs."""

import numpy as np

from answer.fitted import LogisticModel
from answer.quoting import QUOTE_FEATURES
from answer.reader import SPAN_FEATURES, Reading, candidates_of
from eval import fit
from eval.fit import (
    CROSS_FOLDS,
    MIN_TYPE_QUESTIONS,
    SpanQuestion,
    answer_thresholds,
    cross_fitted_readers,
    fit_answerability,
    fit_logistic,
    fit_spans,
    holds_keyword,
    in_answer,
    question_weights,
    quote_threshold,
    show_threshold,
    show_thresholds,
    span_label,
)
from index.searcher import Hit
from ingest.records import Chunk


def test_keyword_labels_match_whole_numbers_only():
    assert holds_keyword("共有6个分会。", ("6",))
    assert not holds_keyword("2016年成立。", ("6",))
    assert holds_keyword("分布在丽江、红河。", ("红河",))
    assert not holds_keyword("没有。", ("红河",))


def test_span_label_accepts_the_core_of_a_wordy_annotation():
    assert span_label("8公斤", ("约只有8公斤重",))
    assert span_label("37885场", ("37885",))
    assert not span_label("1628年", ("尤金袋鼠最初是于1628年船难的生还者在西澳发现的",))


def test_each_corpus_weighs_the_same_and_each_question_within_it():
    w = question_weights(["a", "a", "b"], [2, 4, 1])
    assert np.allclose(w, [0.25, 0.25, 0.125, 0.125, 0.125, 0.125, 1.0])
    assert np.isclose(w[:6].sum(), w[6:].sum())


def test_answer_cut_off_keeps_false_refusals_within_the_limit_in_every_corpus():
    p = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.6, 0.5, 0.45, 0.1])
    y = np.array([True, True, True, False, False, True, True, True, False])
    corpora = np.array(["a"] * 5 + ["b"] * 4)
    cut = answer_thresholds(p, y, corpora, max_false_refusal=0.0)
    # Corpus b's weakest answerable question (0.45) bounds the cut-off.
    assert cut["answer"] <= 0.45 and cut["answer"] > 0.3
    assert cut["llm"] <= cut["answer"]


def test_answer_cut_off_is_an_even_chance_when_false_refusals_allow_it():
    """Not the most accurate cut-off on the fitting questions, which one
    question moves: refusing below one half, where the questions above (0.6,
    0.7) and below (0.45 answerable, 0.3 not) would make another cut-off as
    accurate."""
    p = np.array([0.9, 0.7, 0.6, 0.45, 0.3, 0.2, 0.8, 0.1])
    y = np.array([True, True, False, True, False, False, True, False])
    corpora = np.array(["a"] * 6 + ["b"] * 2)
    assert answer_thresholds(p, y, corpora, max_false_refusal=0.5)["answer"] == 0.5
    assert answer_thresholds(p, y, corpora, max_false_refusal=0.0)["answer"] == 0.45


def test_a_sentence_holding_a_keyword_or_part_of_one_is_in_the_answer():
    """An annotated answer may run over sentences: each sentence it touches is
    part of it. Spaces from the print layout and letter case do not matter,
    and a keyword found twice puts both sentences in."""
    passage = "甲说了一句。乙 说了第二句。丙说了第三句。丁说的是AGG01。乙说了第二句。"
    over = ("乙说了第二句。丙说了",)
    assert [in_answer(passage, p, over) for p in range(5)] == [False, True, True, False, False]
    twice = ("说了第二句",)
    assert [in_answer(passage, p, twice) for p in range(5)] == [False, True, False, False, True]
    assert [in_answer(passage, p, ("agg01",)) for p in range(5)] == [False] * 3 + [True, False]
    assert not any(in_answer(passage, p, ("",)) for p in range(5))


def test_quote_cut_off_is_the_lowest_within_the_length_budget(monkeypatch):
    """Quotes lengthen as the cut-off falls; the chosen one is the lowest whose
    quotes average at most QUOTE_CHARS characters."""
    passage = "".join(f"第{i}句话共八字。" for i in range(6))  # six sentences of 8 characters
    hit = Hit(Chunk("c", passage, "a.txt", "/a.txt", "", "", 1, 0), 0.5)
    found = {c.text: c for c in candidates_of([hit])}
    order = [f"第{i}句话共八字。" for i in range(6)]
    reading = Reading(tuple(found[t] for t in order), (5.0, 4.0, 3.0, 2.0, 1.0, 0.0))
    coef = tuple(-1.0 if f == "score_gap" else 0.0 for f in QUOTE_FEATURES)
    model = LogisticModel(QUOTE_FEATURES, coef, 0.0)  # P = sigmoid(-gap): 0.27, 0.12, 0.05, …
    monkeypatch.setattr(fit, "QUOTE_CHARS", 24)  # three sentences
    cut = quote_threshold(model, [(reading, [hit])], most=6)
    assert 1 / (1 + np.exp(3.0)) < cut <= 1 / (1 + np.exp(2.0))  # the fourth out, the third in
    monkeypatch.setattr(fit, "QUOTE_CHARS", 8)  # the best sentence alone
    assert 1 / (1 + np.exp(1.0)) < quote_threshold(model, [(reading, [hit])], most=6)


def test_show_cut_off_shows_more_right_than_wrong():
    model = LogisticModel(("x",), (1.0,), 0.0)
    per_question = [
        ("number", np.array([[3.0], [0.0]]), np.array([True, False])),  # p 0.95: right
        ("number", np.array([[2.0]]), np.array([False])),  # p 0.88: wrong
        ("number", np.array([[2.5]]), np.array([True])),  # p 0.92: right
        ("number", np.array([[-1.0]]), np.array([False])),  # p 0.27: wrong
    ]
    # Halfway between the wrong one at 0.88 and the right one at 0.92 it shows.
    halfway = (1 / (1 + np.exp(-2.0)) + 1 / (1 + np.exp(-2.5))) / 2
    assert abs(show_threshold(model, per_question) - halfway) < 1e-9


def test_each_answer_type_with_enough_questions_gets_its_own_show_cut_off():
    """Numbers right at p 0.6, names wrong up to p 0.9: one cut-off for both
    would withhold the numbers or show the wrong names."""
    model = LogisticModel(("x",), (1.0,), 0.0)
    numbers = [("number", np.array([[0.4]]), np.array([True]))] * MIN_TYPE_QUESTIONS
    names = [("name", np.array([[2.0]]), np.array([False]))] * MIN_TYPE_QUESTIONS
    names += [("name", np.array([[3.0]]), np.array([True]))] * MIN_TYPE_QUESTIONS
    few = [("date", np.array([[0.0]]), np.array([True]))] * (MIN_TYPE_QUESTIONS - 1)
    cuts = show_thresholds(model, numbers + names + few)
    assert set(cuts) == {"show", "show_number", "show_name"}  # too few dates
    assert cuts["show_number"] <= 1 / (1 + np.exp(-0.4))
    assert 1 / (1 + np.exp(-2.0)) < cuts["show_name"] <= 1 / (1 + np.exp(-3.0))


def test_fitted_model_separates_and_round_trips():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = x[:, 0] > 0
    model = fit_logistic(x, y, np.ones(200), ("a", "b"), {"sets": ["t"]})
    restored = LogisticModel.from_json(model.to_json())
    assert restored.features == ("a", "b") and restored.fitted_on == {"sets": ["t"]}
    assert np.mean((restored.probability(x) > 0.5) == y) > 0.95


def test_each_cross_fitted_reader_leaves_out_its_folds_questions(monkeypatch):
    """Answerability's signals are read by a reader that was not fitted on the
    question: fold f's reader sees every question's rows but fold f's, whole."""
    groups = [3, 1, 4, 2, 5, 2, 3]  # candidate rows per question
    folds = [0, 1, 2, 3, 4, 0, 1]
    question = np.repeat(np.arange(len(groups)), groups)
    x = question[:, None].astype(float)  # each row says which question it is
    seen = []

    def record(x, y, weight, groups, about, seeds):
        seen.append((sorted(set(x[:, 0].astype(int))), groups))
        return "reader"

    monkeypatch.setattr(fit, "fit_ranker", record)
    readers = cross_fitted_readers(x, np.zeros(len(x)), np.ones(len(x)), groups, folds)
    assert readers == ["reader"] * CROSS_FOLDS
    for f, (questions, kept_groups) in enumerate(seen):
        expected = [i for i, g in enumerate(folds) if g != f]
        assert questions == expected
        assert kept_groups == [groups[i] for i in expected]


def test_copies_asking_about_another_number_weigh_only_the_missing_number():
    """Fitted with the copies, the answerability model gives a question without
    a missing number the probability it gets from the questions alone, and a
    missing number weighs against answering."""
    from answer.answerability import FEATURES

    rng = np.random.default_rng(0)
    n, col = 200, FEATURES.index("missing_numbers")
    x = rng.normal(size=(n, len(FEATURES)))
    x[:, col] = 0.0
    y = x[:, 0] + rng.normal(scale=0.5, size=n) > 0
    w = np.full(n, 1.0 / n)
    alone = fit_logistic(x, y, w, FEATURES, {})
    copies = x[y].copy()
    copies[:, col] = 1.0  # the same questions, asking about a number not stated
    x_all = np.vstack([x, copies])
    y_all = np.concatenate([y, np.zeros(len(copies), dtype=bool)])
    w_all = np.concatenate([w, w[y]])
    real = np.arange(len(y_all)) < n
    model = fit_answerability(x_all, y_all, w_all, real, {})
    assert np.allclose(model.probability(x), alone.probability(x))
    assert model.coef[col] < 0
    assert (model.probability(copies) < alone.probability(x[y])).all()


def test_a_copy_asks_about_the_nearest_number_the_passages_do_not_state():
    from eval.other_numbers import with_other_number

    passages = "2013年计划参选总统，2014年移交权力。"
    assert (
        with_other_number("2013年为什么没有参选？", passages) == "2012年为什么没有参选？"
    )  # 2014 is stated
    assert (
        with_other_number("1999年发生了什么？", passages) is None
    )  # not stated: nothing to change
    assert with_other_number("为什么没有参选？", passages) is None
    # A leading zero is kept, and no number becomes negative.
    assert with_other_number("AGG01的功效？", "AGG01是一种蛋白质。") == "AGG02的功效？"
    assert with_other_number("AGG01的功效？", "AGG01与AGG02。") == "AGG00的功效？"


def test_the_span_model_learns_from_questions_with_a_right_option_only():
    """Rows of a question none of whose options is right teach nothing about
    which option is the answer; they still count for the show cut-off."""
    rng = np.random.default_rng(0)

    def question(right_at: int | None) -> SpanQuestion:
        x = rng.normal(size=(3, len(SPAN_FEATURES)))
        y = np.zeros(3, dtype=bool)
        if right_at is not None:
            x[right_at, 0] += 6.0  # the right option's reader score stands out
            y[right_at] = True
        return SpanQuestion("cmrc", "number", x, y)

    questions = [question(i % 3) for i in range(30)] + [question(None)] * 5 + [None] * 3
    model = fit_spans(questions, {"sets": ["test"]})
    assert model.fitted_on == {"sets": ["test"], "rows": 90}
    assert model.coef[0] > 0
    picked = [int(np.argmax(model.probability(q.x))) for q in questions[:30]]
    assert picked == [i % 3 for i in range(30)]
    assert "show" in model.thresholds


def test_a_copy_asks_about_the_rarest_noun_changed_to_one_the_collection_lacks():
    """`eval unknown-words`: the rarest noun the passages hold, not the focus,
    becomes a dictionary noun that neither the collection nor the passages hold."""
    from answer.question import analyse, tagged
    from eval.unknown_words import nouns, with_unknown_word

    q = analyse("龙岩的驿站枫桥调解成功了多少件劳动争议？")  # focus 龙岩
    weights = {"龙岩": 9.0, "驿站": 4.0, "争议": 6.0, "调解": 7.0}
    passages = "龙岩的驿站枫桥调解成功800余件劳动争议。"
    held = set(nouns()[::2])  # half the dictionary's nouns are in the collection
    copy = with_unknown_word(q, weights, passages, lambda w: w not in held)
    kept = "龙岩的驿站枫桥调解成功了多少件劳动"  # 争议 changed: 调解, rarer, is a verb
    assert copy.startswith(kept) and copy.endswith("？")
    noun = copy[len(kept) : -1]
    assert noun in nouns() and noun not in held and noun not in passages
    assert dict(tagged(copy)).get(noun, "n") == "n"
    # The same copy on every run; none when the only noun the passages hold is the focus.
    assert with_unknown_word(q, weights, passages, lambda w: w not in held) == copy
    assert with_unknown_word(q, {"龙岩": 9.0, "调解": 7.0}, passages, lambda w: True) is None
