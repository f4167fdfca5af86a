"""Fitted scorers learned by `python -m eval.fit` and loaded at start-up:
logistic models (feature names, weights, thresholds) and the reader's
learning-to-rank model (LightGBM's own text format). Each is one JSON file that
also says what it was fitted on. Nothing in the answer path sets a weight by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from errors import GhqaError

MODELS_DIR = Path(__file__).resolve().parent / "models"
FORMAT = 1


class FittedModelInvalid(GhqaError):
    """A fitted-model file is missing, unreadable or for other features."""


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    # Probability cut-offs chosen on the fitting split, e.g. {"answer": 0.42}.
    thresholds: dict[str, float] = field(default_factory=dict)
    # Feature scaling learned with the weights (mean, scale per feature).
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    fitted_on: dict = field(default_factory=dict)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(positive) for each row of x (columns in `features` order)."""
        return 1.0 / (1.0 + np.exp(-self.logit(x)))

    def logit(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if self.mean:
            x = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return x @ np.asarray(self.coef) + self.intercept

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "features": list(self.features),
            "coef": [round(c, 6) for c in self.coef],
            "intercept": round(self.intercept, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
            "thresholds": {k: round(v, 4) for k, v in self.thresholds.items()},
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_json(cls, data: dict) -> LogisticModel:
        return cls(
            tuple(data["features"]),
            tuple(data["coef"]),
            float(data["intercept"]),
            dict(data.get("thresholds", {})),
            tuple(data.get("mean", ())),
            tuple(data.get("scale", ())),
            dict(data.get("fitted_on", {})),
        )


@dataclass(frozen=True)
class RankingModel:
    """Gradient-boosted trees that rank the candidates of one question against
    each other (LightGBM, lambdarank): higher ranks first, and a score is not a
    probability. Several boosters fitted with different seeds score together
    (their mean): one alone moves with the seed as much as with a real change
    (eval/fit.py). The trees are LightGBM's text format, parsed by LightGBM."""

    features: tuple[str, ...]
    trees: tuple[str, ...]  # LightGBM's model texts; () (before fitting) scores every candidate 0
    fitted_on: dict = field(default_factory=dict)

    def score(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if not self.trees:
            return np.zeros(len(x))
        # One thread: a question's hundred candidates take a millisecond or
        # two, and the server's other requests need the other core.
        return np.mean([b.predict(x, num_threads=1) for b in self._boosters], axis=0)

    @cached_property
    def _boosters(self) -> list:
        import lightgbm

        return [lightgbm.Booster(model_str=text) for text in self.trees]

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "kind": "lightgbm-ranker",
            "features": list(self.features),
            "fitted_on": self.fitted_on,
            "sha256": _digest("".join(self.trees)),
            "trees": list(self.trees),
        }

    @classmethod
    def from_json(cls, data: dict) -> RankingModel:
        import lightgbm

        if data.get("kind") != "lightgbm-ranker":
            raise ValueError(f"kind {data.get('kind')}")
        trees = data["trees"]
        trees = (trees,) if isinstance(trees, str) else tuple(map(str, trees))
        model = cls(tuple(data["features"]), trees, dict(data.get("fitted_on", {})))
        # LightGBM aborts the whole process on damaged model text instead of
        # raising: damage must be caught before it parses anything.
        if data.get("sha256") != _digest("".join(model.trees)):
            raise ValueError("校验和不符，文件已损坏")
        try:
            model.score(np.zeros((1, len(model.features))))  # the trees parse
        except lightgbm.basic.LightGBMError as exc:
            raise ValueError(str(exc).splitlines()[0]) from None
        return model


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_model(name: str, features: tuple[str, ...], directory: Path = MODELS_DIR) -> LogisticModel:
    """The fitted logistic model `name`.json; refuses one fitted on other features."""
    return _load(name, features, directory, LogisticModel)


def load_ranker(name: str, features: tuple[str, ...], directory: Path = MODELS_DIR) -> RankingModel:
    """The fitted ranking model `name`.json; refuses one fitted on other features."""
    return _load(name, features, directory, RankingModel)


def _load(name: str, features: tuple[str, ...], directory: Path, kind: type):
    path = directory / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')}")
        model = kind.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FittedModelInvalid(
            f"无法读取拟合模型 {path}（{exc}）：请运行 python -m eval.fit 重新拟合。"
        ) from None
    if model.features != features:
        raise FittedModelInvalid(
            f"拟合模型 {path} 的特征与代码不一致：请运行 python -m eval.fit 重新拟合。"
        )
    return model
