"""The charge-anomaly model: features of a charge, training an IsolationForest, versioned files.

Features of a ChargePosted:

- log(1 + amount), and that value minus the median of its charge code in training;
- the charge code and the department, one-hot encoded (codes never seen in training encode as all zeros);
- the hour of day on the unit circle (sin and cos), so 23:00 and 00:00 are neighbours.

An IsolationForest scores each charge. A charge is anomalous when its score
falls below the ``quantile`` of the training scores, so on data like the
training data the expected false-alarm rate is about that quantile.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import OneHotEncoder

from heals.errors import HealsError

__all__ = ["ChargeModel", "charge_features", "train", "save", "load_current", "current_path"]

logger = logging.getLogger(__name__)

CURRENT = "CURRENT"
_CATEGORICAL = ("code", "department")
_NUMERIC = ("log_amount", "hour_sin", "hour_cos")


class ChargeEncoder:
    """Turn charge feature dicts into a numeric matrix: one-hot categories, then the numbers."""

    def __init__(self) -> None:
        self.one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        self.code_medians: dict[str, float] = {}
        self.overall_median = 0.0

    def fit(self, rows: list[dict[str, Any]]) -> "ChargeEncoder":
        """Learn the categories and each code's median log amount from the training charges."""
        self.one_hot.fit(self._categories(rows))
        by_code: dict[str, list[float]] = {}
        for row in rows:
            by_code.setdefault(row["code"], []).append(row["log_amount"])
        self.code_medians = {code: float(np.median(amounts)) for code, amounts in by_code.items()}
        self.overall_median = float(np.median([row["log_amount"] for row in rows]))
        return self

    def transform(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """Return the feature matrix of the charges."""
        numbers = np.array([[row[name] for name in _NUMERIC] for row in rows], dtype=float)
        # The amount against its code's usual amount separates a mistyped price
        # far better than the amount alone, which mixes cheap and dear codes.
        relative = np.array([[row["log_amount"] - self.code_medians.get(row["code"], self.overall_median)]
                             for row in rows])
        return np.hstack([self.one_hot.transform(self._categories(rows)), numbers, relative])

    @staticmethod
    def _categories(rows: list[dict[str, Any]]) -> np.ndarray:
        return np.array([[row[name] for name in _CATEGORICAL] for row in rows], dtype=object)


@dataclass
class ChargeModel:
    """A trained charge-anomaly model with its version and decision threshold."""

    version: str
    encoder: ChargeEncoder
    forest: IsolationForest
    threshold: float
    trained_at: dt.datetime
    training_charges: int
    quantile: float

    def score(self, features: dict[str, Any]) -> float:
        """Return the IsolationForest score of one charge; lower is more anomalous."""
        return float(self.forest.score_samples(self.encoder.transform([features]))[0])

    def is_anomalous(self, score: float) -> bool:
        """True when the score is below the training threshold."""
        return score < self.threshold


def charge_features(charge: dict[str, Any]) -> dict[str, Any]:
    """Return the model's features of a ChargePosted value."""
    occurred_at: dt.datetime = charge["envelope"]["occurred_at"]
    offset = charge["envelope"].get("occurred_at_offset_minutes") or 0
    local = occurred_at + dt.timedelta(minutes=offset)
    hour = local.hour + local.minute / 60
    amount = float(charge["extended_amount"]["amount"])
    return {
        "log_amount": math.copysign(math.log1p(abs(amount)), amount),
        "hour_sin": math.sin(2 * math.pi * hour / 24),
        "hour_cos": math.cos(2 * math.pi * hour / 24),
        "code": f"{charge['code'].get('system') or ''}|{charge['code']['code']}",
        "department": charge.get("department") or "",
    }


def train(rows: list[dict[str, Any]], *, version: str, quantile: float = 0.001, seed: int = 0) -> ChargeModel:
    """Fit an IsolationForest on charge features."""
    if len(rows) < 50:
        raise HealsError(f"too few charges to train on: {len(rows)}, need at least 50; post more or replay a longer range")
    encoder = ChargeEncoder().fit(rows)
    matrix = encoder.transform(rows)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(matrix)
    threshold = float(np.quantile(forest.score_samples(matrix), quantile))
    return ChargeModel(version, encoder, forest, threshold, dt.datetime.now(dt.timezone.utc), len(rows), quantile)


def next_version(model_dir: Path) -> str:
    """Return the next version number for a model folder: v1, v2, ..."""
    numbers = [int(path.stem.split("-v")[-1]) for path in model_dir.glob("charge-anomaly-v*.joblib")]
    return f"v{max(numbers, default=0) + 1}"


def save(model: ChargeModel, model_dir: Path) -> Path:
    """Write the model file and then point CURRENT at it, so readers never see half a model."""
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"charge-anomaly-{model.version}.joblib"
    joblib.dump(model, path)
    pointer = model_dir / f"{CURRENT}.tmp"
    pointer.write_text(path.name, encoding="utf-8")
    os.replace(pointer, model_dir / CURRENT)
    logger.info("saved charge-anomaly model %s trained on %d charges", model.version, model.training_charges)
    return path


def current_path(model_dir: Path) -> Path | None:
    """Return the file of the current model version, or None before the first training."""
    pointer = model_dir / CURRENT
    if not pointer.exists():
        return None
    return model_dir / pointer.read_text(encoding="utf-8").strip()


def load_current(model_dir: Path) -> ChargeModel | None:
    """Load the current model version, or None before the first training."""
    path = current_path(model_dir)
    return None if path is None else joblib.load(path)
