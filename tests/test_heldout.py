"""`python -m eval.heldout`: each fitting question answered by a reader and a
span model not fitted on it."""

from types import SimpleNamespace

from eval import heldout, noise
from eval.backends import Observation, Passage
from eval.fit import Example, left_out
from eval.metrics import score
from eval.questions import EvalQuestion


def _service() -> SimpleNamespace:
    """The parts of an AnswerService the held-out run sets: its models."""
    return SimpleNamespace(
        reader=SimpleNamespace(model=None, span_model=None),
        judge=SimpleNamespace(model=None),
        quoter=SimpleNamespace(model=None),
    )


def test_each_question_is_answered_by_the_reader_and_span_model_of_its_own_fold(monkeypatch):
    union, cmrc = _service(), _service()
    examples = [
        Example("union", EvalQuestion(f"u{i}", f"问题{i}？", keywords=("答",)), union)
        for i in range(4)
    ] + [Example("cmrc", EvalQuestion("c0", "别的问题？", answerable=False), cmrc)]
    fold = {e.question.question: i % 5 for i, e in enumerate(examples)}
    answered_by = []

    def readers(answerable, seeds):
        assert [e.question.id for e in answerable] == ["u0", "u1", "u2", "u3"]
        return [f"fold {f}, seeds {seeds}" for f in range(5)]

    class Backend:
        def __init__(self, service, k):
            self.service = service

        def ask(self, question):
            answered_by.append((question, self.service.reader.model))
            spans_by.append((question, self.service.reader.span_model))
            return Observation((), "答案", False, (), 1.0)

    spans_by = []

    def span_questions(answerable):
        # The span options are read by the shipped reader, as the fitting command reads them.
        assert all(e.service.reader.model == "shipped reader" for e in answerable)
        return [f"spans of {e.question.id}" for e in answerable]

    def fit_spans(questions, about):
        return "span model on " + ", ".join(questions)

    monkeypatch.setattr(heldout, "load_examples", lambda settings, **draw: examples)
    monkeypatch.setattr(heldout, "reader_data", lambda answerable: (answerable,))
    monkeypatch.setattr(heldout, "cross_fitted_readers", readers)
    monkeypatch.setattr(heldout, "fold_of", lambda e: fold[e.question.question])
    monkeypatch.setattr(heldout, "LocalBackend", Backend)
    monkeypatch.setattr(heldout, "span_questions", span_questions)
    monkeypatch.setattr(heldout, "fit_spans", fit_spans)
    shipped = {"reader": "shipped reader"}
    monkeypatch.setattr(heldout, "load_ranker", lambda name, features, models: shipped[name])

    runs = heldout.held_out_scores(repeats=2)

    # The first repeat with the shipped reader's seeds, the second with new ones.
    assert answered_by == [
        (q, f"fold {f}, seeds {seeds}") for seeds in ((0, 1, 2), (3, 4, 5)) for q, f in fold.items()
    ]
    # Each question's span model was fitted on the other folds' questions only.
    union_fold = {f"u{i}": i % 5 for i in range(4)}
    for question, model in spans_by:
        f = fold[question]
        others = [q for q, g in union_fold.items() if g != f]
        assert model == "span model on " + ", ".join(f"spans of {q}" for q in others)
    for scored in runs:
        assert [s.question.id for s in scored["union"]] == ["u0", "u1", "u2", "u3"]
        assert [s.question.id for s in scored["cmrc"]] == ["c0"]
    # The other models are the shipped ones, not the fitting command's placeholders.
    assert all(s.judge.model and s.quoter.model for s in (union, cmrc))


def test_the_table_counts_refusals_and_answer_length_per_corpus():
    passage = Passage("p", "资料", "", "")
    found = score(
        EvalQuestion("a", "怎么做的？", keywords=("3辆",)),
        Observation((passage,), "共有3辆。", False, (passage,), 1.0),
    )
    missed = score(
        EvalQuestion("b", "为什么？", keywords=("5个",)),
        Observation((passage,), "不知道的答案", False, (passage,), 1.0),
    )
    refused = score(
        EvalQuestion("c", "没有的事？", answerable=False),
        Observation((), "资料中没有找到相关内容。", True, (), 1.0),
    )
    lines = heldout.table([{"union": [found, missed, refused]}]).splitlines()
    assert lines[0].startswith("| corpus | n | keyword_recall |")
    assert lines[2] == "| union | 3 | 0.5000 | – | 1.0000 | 0.0000 | 1/1 | 6 |"
    # Two runs: the mean, then the lowest and highest.
    lines = heldout.table(
        [{"union": [found, missed, refused]}, {"union": [missed, missed, refused]}]
    )
    assert lines.splitlines()[2] == (
        "| union | 3 | 0.2500 (0.0000–0.5000) | – | 1.0000 (1.0000–1.0000) "
        "| 0.0000 (0.0000–0.0000) | 1/1 (1–1) | 6 (6–6) |"
    )
    # Runs over different questions (eval.noise): the sizes' range, the share refused.
    lines = heldout.table([{"union": [found, missed, refused]}, {"union": [refused, refused]}])
    cells = lines.splitlines()[2].split(" | ")
    assert cells[1] == "2–3"
    assert cells[6] == "1.000 (1.000–1.000)"


def test_each_draw_leaves_out_its_own_share_of_each_corpus():
    ids = [f"q{i}" for i in range(2000)]
    draws = [{i for i in ids if left_out("cmrc", i, 0.08, seed)} for seed in (1, 2)]
    assert all(130 < len(d) < 190 for d in draws)  # about 8 % of 2,000
    assert draws[0] != draws[1]
    assert draws[0] == {i for i in ids if left_out("cmrc", i, 0.08, 1)}  # the same every run
    assert not any(left_out("cmrc", i, 0.0, 1) for i in ids)
    assert {i for i in ids if left_out("union", i, 0.08, 1)} != draws[0]


def test_each_noise_run_scores_with_models_fitted_without_its_draw(monkeypatch, tmp_path):
    fitted, scored_with = [], []

    def load_examples(settings, leave_out, seed):
        return [f"question {q}" for q in range(5) if q != seed]

    def fit_models(settings, examples):
        fitted.append(examples)
        return {"reader": f"reader without draw {len(fitted)}"}

    def write_models(models, out):
        (out / "reader.json").write_text(models["reader"])

    def held_out_scores(repeats, models, leave_out, seed):
        scored_with.append(((models / "reader.json").read_text(), leave_out, seed))
        return [{"union": []}]

    for name, double in locals().copy().items():
        if callable(double) and name != "monkeypatch":
            monkeypatch.setattr(noise, name, double)
    monkeypatch.setattr(noise, "load_settings", lambda: None)

    runs = noise.perturbed_scores(runs=2, leave_out=0.1)

    assert fitted == [
        [f"question {q}" for q in (0, 2, 3, 4)],
        [f"question {q}" for q in (0, 1, 3, 4)],
    ]
    assert scored_with == [("reader without draw 1", 0.1, 1), ("reader without draw 2", 0.1, 2)]
    assert len(runs) == 2
