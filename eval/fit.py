"""`python -m eval.fit`: learn the answer models from the fitting split.

Three models, fitted in order on the questions marked `"split": "fit"` of the
union sets and of the CMRC set (each corpus weighs the same, each question the
same within its corpus), and written to answer/models/*.json with what they
were fitted on:

1. reader        - which of a question's clauses/sentences states the answer?
                   LightGBM learning-to-rank over each question's candidates
                   (label: the candidate contains a keyword of the question);
2. spans         - logistic: is this typed span the short answer? (label: it equals a
                   keyword after normalisation); the cut-off for showing one
                   maximises right-minus-wrong short answers shown;
3. answerability - logistic: does the index hold the answer? (label: `answerable`;
                   the weight of a missing number is fitted on copies of the
                   questions asking about another number, eval/other_numbers.py); the
                   cut-off for answering is the most accurate one whose false
                   refusals stay within --max-false-refusal, and the "llm"
                   cut-off (before a model that refuses by itself) refuses no
                   more than 0.5 % of answerable questions.

The evaluation split is never read here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import click
import numpy as np
import sklearn
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from answer import answerability, quoting, reader
from answer.fitted import MODELS_DIR, LogisticModel, RankingModel
from answer.service import AnswerService
from errors import exit_on_error
from eval.copies import read_question
from eval.metrics import _fold, normalise_answer, short_answer_applies, short_answer_matches
from eval.other_numbers import with_other_number
from eval.questions import EvalQuestion, load_set
from eval.report import write_atomic
from index.embedder import load_embedder
from index.searcher import Searcher
from settings import PROJECT_ROOT, Settings, load_settings

SETS = PROJECT_ROOT / "eval" / "sets"
# (question set, index directory relative to the data directory, corpus name)
SOURCES = (
    ("dev.jsonl", "index", "union"),
    ("smoke.jsonl", "index", "union"),
    ("acftu2024.jsonl", "index", "union"),
    ("cmrc2018.jsonl", "cmrc/index", "cmrc"),
)
LLM_MAX_FALSE_REFUSAL = 0.005
ANSWER_CUT_OFF = 0.5  # refuse below an even chance, unless false refusals need it lower
_CORE_SLACK = 4  # characters of context an annotated answer may add around its span
# Small trees, slow learning, fixed seeds: a few thousand candidates of ~500
# questions, and a refit on the same data must give the same file.
RANKER_PARAMS = {
    "objective": "lambdarank",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
RANKER_ROUNDS = 200
# The reader is the mean of boosters fitted with these seeds. One booster's
# keyword_recall moved by up to 0.018 on a fitting split from its seed alone
# (0, 1, 2), as much as a real change does; three together moved 0.005.
RANKER_SEEDS = (0, 1, 2)
MIN_TYPE_QUESTIONS = 30  # fitting questions an answer type needs for its own show cut-off
CROSS_FOLDS = 5  # readers fitted without a fifth of the questions, for answerability's signals
# Characters an answer quotes on average on the fitting questions: what the
# fixed rule the quote model replaced quoted (best sentence and the two next best
# of its passage: 137 on the CMRC fitting split, 145 on the union's).
QUOTE_CHARS = 140


@dataclass
class Example:
    corpus: str
    question: EvalQuestion
    service: AnswerService


def placeholder(features: tuple[str, ...]) -> LogisticModel:
    """Before anything is fitted: every candidate scores the same."""
    return LogisticModel(features, (0.0,) * len(features), 0.0, {"answer": 0.0, "llm": 0.0})


def fit_logistic(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, features: tuple[str, ...], about: dict
) -> LogisticModel:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=weight / weight.mean())
    return LogisticModel(
        features,
        tuple(float(c) for c in model.coef_[0]),
        float(model.intercept_[0]),
        mean=tuple(float(m) for m in mean),
        scale=tuple(float(s) for s in scale),
        fitted_on=about,
    )


def fit_ranker(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    groups: list[int],
    about: dict,
    seeds: tuple[int, ...] = RANKER_SEEDS,
) -> RankingModel:
    """`groups`: how many consecutive rows belong to each question."""
    import lightgbm

    data = lightgbm.Dataset(x, y.astype(int), weight=weight / weight.mean(), group=groups)
    boosters = [
        lightgbm.train(RANKER_PARAMS | {"seed": seed}, data, num_boost_round=RANKER_ROUNDS)
        for seed in seeds
    ]
    return RankingModel(reader.READER_FEATURES, tuple(b.model_to_string() for b in boosters), about)


def question_weights(corpora: list[str], per_question: list[int]) -> np.ndarray:
    """Rows of one question share its weight; corpora weigh the same."""
    count = {c: corpora.count(c) for c in set(corpora)}
    return np.concatenate(
        [
            np.full(n, 1.0 / (count[c] * max(n, 1)))
            for c, n in zip(corpora, per_question, strict=True)
        ]
    )


def read(example: Example):
    return read_question(example.service, example.question.question)


def reader_data(examples: list[Example]):
    """Candidates' features and labels, question by question; every row of a
    question weighs 1 / (its corpus's questions): the ranker compares rows within
    a question, so the question's size does not enter."""
    xs, ys, corpora, sizes, folds = [], [], [], [], []
    for ex in tqdm(examples, desc="阅读器特征", leave=False):
        q, vector, hits, _ = read(ex)
        found, x = ex.service.reader.features(q, hits, vector)
        y = [holds_keyword(c.text, ex.question.keywords) for c in found]
        if not any(y):
            continue  # nothing to learn: the passages do not hold the answer
        xs.append(x)
        ys += y
        corpora.append(ex.corpus)
        sizes.append(len(found))
        folds.append(fold_of(ex))
    count = {c: corpora.count(c) for c in set(corpora)}
    weights = np.concatenate(
        [np.full(n, 1.0 / count[c]) for c, n in zip(corpora, sizes, strict=True)]
    )
    return np.vstack(xs), np.asarray(ys), weights, sizes, folds


def fold_of(example: Example) -> int:
    """A question's fold for cross-fitting, from its id: the same on every run."""
    return zlib.crc32(f"{example.corpus}/{example.question.id}".encode()) % CROSS_FOLDS


def cross_fitted_readers(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    groups: list[int],
    folds: list[int],
    seeds: tuple[int, ...] = RANKER_SEEDS,
) -> list[RankingModel]:
    """One reader per fold, fitted on the other folds' questions. The reader's
    scores are signals of the answerability model: measured with a reader that
    was fitted on the same questions they are higher than on new ones, and the
    refusal cut-off chosen on them refuses more new answerable questions than
    it should."""
    row_fold = np.repeat(folds, groups)
    readers = []
    for f in range(CROSS_FOLDS):
        kept = row_fold != f
        kept_groups = [n for n, g in zip(groups, folds, strict=True) if g != f]
        readers.append(fit_ranker(x[kept], y[kept], weight[kept], kept_groups, {}, seeds))
    return readers


@dataclass(frozen=True)
class SpanQuestion:
    """A typed question's span options as rows of SPAN_FEATURES, and which are right."""

    corpus: str
    kind: str
    x: np.ndarray
    y: np.ndarray


def span_questions(examples: list[Example]) -> list[SpanQuestion | None]:
    """The span options of every question a short answer applies to, read by the
    service's current reader (one entry per example, in order; None where no
    short answer applies)."""
    found = []
    for ex in tqdm(examples, desc="短答案特征", leave=False):
        q, _, _, reading = read(ex)
        if not short_answer_applies(q.type, ex.question.keywords):
            found.append(None)
            continue
        top = reading.candidates[: reader._SPAN_CANDIDATES]
        options, x = ex.service.reader.span_features(q, top, reading.scores)
        y = [span_label(s.text, ex.question.keywords, q.type) for s, _ in options]
        found.append(SpanQuestion(ex.corpus, q.type, x, np.asarray(y, dtype=bool)))
    return found


def fit_spans(questions: list[SpanQuestion | None], about: dict) -> LogisticModel:
    """The span model, fitted on the questions with a right option, and its
    show cut-offs, chosen on all of them."""
    kept = [q for q in questions if q is not None]
    fitted = [q for q in kept if len(q.y) and q.y.any()]
    x = np.vstack([q.x for q in fitted])
    y = np.concatenate([q.y for q in fitted])
    w = question_weights([q.corpus for q in fitted], [len(q.y) for q in fitted])
    model = fit_logistic(x, y, w, reader.SPAN_FEATURES, about | {"rows": len(y)})
    model.thresholds.update(show_thresholds(model, [(q.kind, q.x, q.y) for q in kept]))
    return model


def holds_keyword(text: str, keywords: tuple[str, ...]) -> bool:
    """A keyword in the text; a number only as a whole number ("6" is not in "2016")."""
    folded = _fold(text)
    for k in map(_fold, keywords):
        if re.fullmatch(r"[\d.,]+", k):
            if re.search(rf"(?<![\d.,]){re.escape(k)}(?![\d])", folded):
                return True
        elif k in folded:
            return True
    return False


def span_label(span: str, keywords: tuple[str, ...], kind: str = "") -> bool:
    """Training label of a span: it is the short answer, or the core of one that
    annotators wrote with a few words around it ("8公斤" in "约只有8公斤重")."""
    if short_answer_matches(span, keywords, kind):
        return True
    folded = normalise_answer(span)
    return any(
        folded in normalise_answer(k) and len(normalise_answer(k)) <= len(folded) + _CORE_SLACK
        for k in keywords
    )


def show_threshold(model: LogisticModel, per_question) -> float:
    """The cut-off that maximises right minus wrong short answers shown, halfway
    between the lowest question it shows and the highest below: at the lowest
    shown one itself, a refit that lowers that question's probability a hair
    withholds its answer."""
    best = []
    for _, x, y in per_question:
        if len(y):
            p = model.probability(x)
            i = int(np.argmax(p))
            best.append((float(p[i]), bool(y[i])))
    grid = sorted({p for p, _ in best})
    gain = [sum(1 if ok else -1 for p, ok in best if p >= t) for t in grid]
    if not grid:
        return 0.5
    i = int(np.argmax(gain))
    return (grid[i - 1] + grid[i]) / 2 if i else grid[0]


def show_thresholds(model: LogisticModel, per_question) -> dict[str, float]:
    """One cut-off over all questions ("show"), and one per answer type with
    enough fitting questions ("show_number", …): a number with its unit is
    right far more often than a person's name at the same probability."""
    cuts = {"show": show_threshold(model, per_question)}
    for kind in sorted({k for k, _, _ in per_question}):
        of_kind = [row for row in per_question if row[0] == kind]
        if len(of_kind) >= MIN_TYPE_QUESTIONS:
            cuts[f"show_{kind}"] = show_threshold(model, of_kind)
    return cuts


def answerability_data(examples: list[Example], readers: list[RankingModel]):
    """Each question's signals read by `readers[fold_of(question)]`, a reader
    that was not fitted on it; and, after each answerable question holding a
    number its passages state, the signals of its copy asking about another
    number (`with_other_number`), labelled unanswerable. `origin`: the row of
    the question as written that each row stands for (its own, or the copied
    question's)."""
    rows, labels, corpora, origin = [], [], [], []
    for ex in tqdm(examples, desc="可答性特征", leave=False):
        ex.service.reader.model = readers[fold_of(ex)]
        q, _, hits, reading = read(ex)
        rows.append(ex.service.judge.signals(q, hits, reading))
        labels.append(ex.question.answerable)
        corpora.append(ex.corpus)
        origin.append(len(rows) - 1)
        if ex.question.answerable and (
            other := with_other_number(ex.question.question, answerability.passages_text(hits))
        ):
            copy = replace(ex.question, question=other, answerable=False, keywords=())
            q, _, hits, reading = read(Example(ex.corpus, copy, ex.service))
            rows.append(ex.service.judge.signals(q, hits, reading))
            labels.append(False)
            corpora.append(ex.corpus)
            origin.append(origin[-1])
    # Weighed as the questions as written are, a copy as its question: the
    # copies do not change how much each corpus counts.
    origin_of = np.asarray(origin)
    real = as_written(origin_of)
    per_question = np.zeros(len(rows))
    per_question[real] = question_weights(list(np.asarray(corpora)[real]), [1] * int(real.sum()))
    weights = per_question[origin_of]
    return np.asarray(rows), np.asarray(labels), weights, np.asarray(corpora), origin_of


def quote_data(examples: list[Example], readers: list[RankingModel]):
    """The sentences that may join each answerable question's best one, read
    by a reader not fitted on the question (as the answer's quote will be read
    on new questions), labelled by whether they are part of the annotated
    answer; and the readings, for the cut-off."""
    xs, ys, corpora, sizes, readings = [], [], [], [], []
    for ex in tqdm(examples, desc="引用特征", leave=False):
        ex.service.reader.model = readers[fold_of(ex)]
        _, _, hits, reading = read(ex)
        if not reading.candidates:
            continue
        readings.append((reading, hits))
        positions, x = quoting.options(reading, hits)
        if not positions:
            continue
        passage = hits[reading.candidates[0].hit_index].chunk.text
        xs.append(x)
        ys += [in_answer(passage, p, ex.question.keywords) for p in positions]
        corpora.append(ex.corpus)
        sizes.append(len(positions))
    return np.vstack(xs), np.asarray(ys), question_weights(corpora, sizes), readings


def in_answer(passage: str, position: int, keywords: tuple[str, ...]) -> bool:
    """The passage's sentence at `position` holds a keyword or a part of one
    (an annotated answer may run over sentences); spaces and case ignored."""
    start, end = reader.passage_sentences(passage)[position]
    kept = [i for i, ch in enumerate(passage) if not ch.isspace()]
    folded = "".join(passage[i] for i in kept).casefold()
    for k in filter(None, map(_fold, keywords)):
        for found in re.finditer(re.escape(k), folded):
            if kept[found.start()] < end and kept[found.end() - 1] >= start:
                return True
    return False


def quote_threshold(model: LogisticModel, readings, most: int) -> float:
    """The lowest cut-off at which the quotes average at most QUOTE_CHARS
    characters over `readings` ((reading, hits) of each question)."""
    for cut in np.arange(0.0, 1.0, 0.005):
        quoter = quoting.Quoter(most, replace(model, thresholds={"quote": float(cut)}))
        lengths = [sum(len(t) for t, _ in quoter.quotes(r, hits)) for r, hits in readings]
        if np.mean(lengths) <= QUOTE_CHARS:
            return round(float(cut), 3)
    return 1.0


def as_written(origin: np.ndarray) -> np.ndarray:
    """The rows of the questions as written (not copies), from `origin`."""
    return origin == np.arange(len(origin))


def fit_answerability(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, real: np.ndarray, about: dict
) -> LogisticModel:
    """The answerability model in two steps. Every weight but missing_numbers'
    is fitted on the questions as written, where that signal is nearly always
    0; then missing_numbers' weight alone on them and their copies asking about
    another number (`with_other_number`), the others kept. A copy differs from
    its question only in the number, so fitted together the copies would move
    every weight and the cut-off (they did: false refusals on the CMRC eval
    split rose from 2.5 % to 3.5 %); fitted alone they decide what a missing
    number weighs, and a question whose numbers are all found scores as before."""
    col = answerability.FEATURES.index("missing_numbers")
    without = x.copy()
    without[:, col] = 0.0
    model = fit_logistic(without[real], y[real], weight[real], answerability.FEATURES, about)
    base = model.logit(without)
    # Scaled but not centred, so that a question without the signal keeps its logit.
    scale = float(np.sqrt(np.mean(x[:, col] ** 2))) or 1.0
    signal, w = x[:, col] / scale, weight / weight.mean()

    def loss(beta: float) -> float:
        # sklearn's objective for one weight (C = 1): weighted log-loss + beta² / 2.
        return float(
            np.sum(w * np.logaddexp(0.0, -(2 * y - 1) * (base + beta * signal))) + beta**2 / 2
        )

    beta = float(minimize_scalar(loss).x)
    return replace(
        model,
        coef=tuple(beta if i == col else c for i, c in enumerate(model.coef)),
        mean=tuple(0.0 if i == col else m for i, m in enumerate(model.mean)),
        scale=tuple(scale if i == col else s for i, s in enumerate(model.scale)),
    )


def held_out_probability(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    corpora: np.ndarray,
    origin: np.ndarray,
    folds: int = 5,
) -> np.ndarray:
    """Each question's probability from a model fitted without it (k folds of
    the questions as written, stratified by corpus and label; a copy goes with
    its question). A cut-off chosen on the fitted model's own probabilities is
    too confident: answerable questions it was fitted on score higher than new
    ones, and false refusals then exceed the limit on new data."""
    from sklearn.model_selection import StratifiedKFold

    real = as_written(origin)
    strata = np.char.add(corpora[real].astype(str), y[real].astype(str))
    fold_of_question = np.zeros(len(y), dtype=int)
    split = StratifiedKFold(folds, shuffle=True, random_state=0).split(x[real], strata)
    for f, (_, held) in enumerate(split):
        fold_of_question[np.flatnonzero(real)[held]] = f
    fold = fold_of_question[origin]
    p = np.zeros(len(y))
    for f in range(folds):
        fitting = fold != f
        model = fit_answerability(x[fitting], y[fitting], weight[fitting], real[fitting], {})
        p[fold == f] = model.probability(x[fold == f])
    return p


def answer_thresholds(
    p: np.ndarray, y: np.ndarray, corpora: np.ndarray, max_false_refusal: float
) -> dict:
    """Cut-offs that hold in every corpus. The answer cut-off is one half (the
    probabilities are a logistic model's, calibrated on the fitting questions:
    below it, the passages more likely do not hold the answer), lowered as far
    as needed for false refusals to stay within the limit in each corpus. The
    most accurate cut-off on the fitting questions, chosen before, followed
    single questions: accuracy is flat around it, and refits that differed only
    in the reader's seeds put it at 0.46, 0.59 and 0.57, one union question apart."""
    names = sorted(set(corpora))

    def worst_false_refusal(t: float) -> float:
        return max(float(np.mean(p[(corpora == c) & y] < t)) for c in names)

    grid = np.unique(np.concatenate([[0.0], p, [ANSWER_CUT_OFF]]))
    answer = max(
        t for t in grid if t <= ANSWER_CUT_OFF and worst_false_refusal(t) <= max_false_refusal
    )
    llm = max(t for t in grid if worst_false_refusal(t) <= LLM_MAX_FALSE_REFUSAL)
    return {"answer": float(answer), "llm": float(min(llm, answer))}


def load_examples(
    settings: Settings, sources=SOURCES, leave_out: float = 0.0, seed: int = 0
) -> list[Example]:
    """Every fitting question, with an AnswerService over its corpus's index: one
    service per index, one model instance for all, neutral answer models to start.
    `leave_out`: the share of each corpus's questions `left_out` in draw `seed`."""
    embedder = None
    services: dict[str, AnswerService] = {}
    examples = []
    for set_name, index, corpus in sources:
        if index not in services:
            index_settings = settings.model_copy(update={"index_dir": settings.data_dir / index})
            embedder = embedder or load_embedder(settings)
            searcher = Searcher.open(index_settings, embedder)
            models = {
                "reader": RankingModel(reader.READER_FEATURES, ()),
                "spans": placeholder(reader.SPAN_FEATURES),
                "answerability": placeholder(answerability.FEATURES),
                "quotes": placeholder(quoting.QUOTE_FEATURES),
            }
            services[index] = AnswerService(searcher, index_settings, models=models)
        for q in load_set(SETS / set_name).only("fit").questions:
            if not left_out(corpus, q.id, leave_out, seed):
                examples.append(Example(corpus, q, services[index]))
    return examples


def left_out(corpus: str, question_id: str, share: float, seed: int) -> bool:
    """Whether a fitting question is among the `share` of its corpus left out in
    draw `seed` (`python -m eval.noise`): decided by its id, the same on every run."""
    return zlib.crc32(f"{seed}/{corpus}/{question_id}".encode()) % 10_000 < share * 10_000


@click.command(help="在拟合集上拟合阅读器、短答案与可答性模型，写入 answer/models/。")
@click.option("--out", type=click.Path(path_type=Path), default=MODELS_DIR, show_default=True)
@click.option("--max-false-refusal", default=0.03, show_default=True)
@exit_on_error
def main(out: Path, max_false_refusal: float) -> None:
    settings = load_settings()
    models = fit_models(settings, load_examples(settings), max_false_refusal)
    write_models(models, out)
    for name, model in models.items():
        if isinstance(model, LogisticModel):
            click.echo(f"{name}: {dict(zip(model.features, np.round(model.coef, 3), strict=True))}")
    click.echo(
        f"thresholds: spans {models['spans'].thresholds}, "
        f"answerability {models['answerability'].thresholds}, "
        f"quotes {models['quotes'].thresholds}"
    )


def fit_models(
    settings: Settings, examples: list[Example], max_false_refusal: float = 0.03
) -> dict[str, LogisticModel | RankingModel]:
    """The four answer models, fitted in order on `examples`, by name."""
    services = {id(e.service): e.service for e in examples}.values()
    answerable = [e for e in examples if e.question.answerable and e.question.keywords]
    about = {
        "sets": [f"eval/sets/{s} (split fit)" for s, _, _ in SOURCES],
        "questions": {c: sum(e.corpus == c for e in examples) for c in ("union", "cmrc")},
        "sklearn": sklearn.__version__,
        "date": dt.date.today().isoformat(),
    }
    x, y, w, groups, folds = reader_data(answerable)
    reader_model = fit_ranker(x, y, w, groups, about | {"rows": len(y), "lightgbm": _version()})
    readers = cross_fitted_readers(x, y, w, groups, folds)
    for s in services:
        s.reader.model = reader_model
    span_model = fit_spans(span_questions(answerable), about)
    for s in services:
        s.reader.span_model = span_model
    x, y, w, corpora, origin = answerability_data(examples, readers)
    real = as_written(origin)
    for s in services:
        s.reader.model = reader_model
    copies = {"rows": int(real.sum()), "copies_with_another_number": int((~real).sum())}
    judge_model = fit_answerability(x, y, w, real, about | copies)
    # Cut-offs are chosen on the questions as written, not on their copies.
    p = held_out_probability(x, y, w, corpora, origin)
    judge_model.thresholds.update(
        answer_thresholds(p[real], y[real], corpora[real], max_false_refusal)
    )
    x, y, w, readings = quote_data(answerable, readers)
    for s in services:
        s.reader.model = reader_model
    quote_model = fit_logistic(x, y, w, quoting.QUOTE_FEATURES, about | {"rows": len(y)})
    quote_model.thresholds["quote"] = quote_threshold(
        quote_model, readings, settings.answer_sentences
    )
    return {
        "reader": reader_model,
        "spans": span_model,
        "answerability": judge_model,
        "quotes": quote_model,
    }


def write_models(models: dict[str, LogisticModel | RankingModel], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        write_atomic(
            out / f"{name}.json", json.dumps(model.to_json(), ensure_ascii=False, indent=1) + "\n"
        )


def _version() -> str:
    import lightgbm

    return lightgbm.__version__


if __name__ == "__main__":
    main()
