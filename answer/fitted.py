"""Fitted scorers: logistic models learned by `python -m eval.fit`, stored as
small JSON files (feature names, weights, thresholds, and what they were fitted
on) and loaded at start-up. Nothing in the answer path sets a weight by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if self.mean:
            x = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        z = x @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

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


def load_model(name: str, features: tuple[str, ...], directory: Path = MODELS_DIR) -> LogisticModel:
    """The fitted model `name`.json; refuses one fitted on other features."""
    path = directory / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')}")
        model = LogisticModel.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FittedModelInvalid(
            f"无法读取拟合模型 {path}（{exc}）：请运行 python -m eval.fit 重新拟合。"
        ) from None
    if model.features != features:
        raise FittedModelInvalid(
            f"拟合模型 {path} 的特征与代码不一致：请运行 python -m eval.fit 重新拟合。"
        )
    return model
