r"""Online anomaly detection on each patient's vital-sign streams with river.

Model: one river ``StandardAbsoluteDeviation`` per patient and parameter,
with its baseline protected from the readings it flags. The score of a
reading :math:`x` is

.. math:: s = \frac{|x - \bar{x}|}{\max(\hat\sigma, \sigma_{min})}

where :math:`\bar{x}` and :math:`\hat\sigma` are the running mean and
standard deviation of the readings learned so far. :math:`\sigma_{min}` is
a floor per parameter, so a very steady monitor trace does not turn a
1 bpm change into a large score. The model learns its first ``warmup``
readings without scoring, then scores each reading and learns it only when
its score stays below the threshold.

Why not HalfSpaceTrees: it updates its mass profile with every window of
readings, so a deterioration, which arrives as a run of abnormal readings,
becomes the new normal after one window. The protected baseline here does
not learn from flagged readings, so every reading of the run keeps its high
score. An alert is raised when a stream enters the anomalous state; the
stream leaves it at the first reading below the threshold.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import pickle
from dataclasses import dataclass, field
from typing import Any

from river import anomaly

from heals.streams.detectors.events import AlertFactory, deterministic_id
from heals.streams.detectors.news2 import Observation, Parameter
from heals.streams.detectors.store import Transaction

__all__ = ["StreamModel", "VitalAnomalyDetector", "DETECTOR", "MIN_STD", "UNITS"]

logger = logging.getLogger(__name__)

DETECTOR = {"name": "vitals-anomaly", "version": "1.0.0"}

# Floors of the standard deviation, in each parameter's chart unit: about the
# resolution of a bedside reading, so steady traces do not give huge scores.
MIN_STD = {
    Parameter.RESPIRATION_RATE: 1.5,
    Parameter.SPO2: 1.0,
    Parameter.SYSTOLIC_BP: 5.0,
    Parameter.PULSE: 3.0,
    Parameter.TEMPERATURE: 0.2,
}
UNITS = {
    Parameter.RESPIRATION_RATE: "/min",
    Parameter.SPO2: "%",
    Parameter.SYSTOLIC_BP: "mm[Hg]",
    Parameter.PULSE: "/min",
    Parameter.TEMPERATURE: "Cel",
}


@dataclass
class StreamModel:
    """The river model of one patient's parameter stream, and whether it is in an anomalous run."""

    parameter: Parameter
    baseline: anomaly.StandardAbsoluteDeviation = field(default_factory=anomaly.StandardAbsoluteDeviation)
    learned: int = 0
    in_anomaly: bool = False

    @property
    def mean(self) -> float:
        """Running mean of the learned readings."""
        return self.baseline.sub_stat.get()

    @property
    def std(self) -> float:
        """Running standard deviation of the learned readings, floored at MIN_STD."""
        return max(math.sqrt(max(self.baseline.variance.get(), 0.0)), MIN_STD[self.parameter])

    def score(self, value: float) -> float:
        """Return the standardised absolute deviation of a value from the baseline."""
        return abs(value - self.mean) / self.std

    def learn(self, value: float) -> None:
        """Add a value to the baseline."""
        self.baseline.learn_one(None, value)
        self.learned += 1


class VitalAnomalyDetector:
    """Score numeric vital signs against each patient's own learned baseline.

    NOTE: a stream stays anomalous for as long as its readings stay far from
    the baseline, because flagged readings are never learned. A genuine new
    normal (after surgery, say) therefore needs the model row deleted to
    learn afresh; no automatic re-baselining exists yet.
    """

    def __init__(self, warmup: int, threshold: float, factory: AlertFactory) -> None:
        self.warmup = warmup
        self.threshold = threshold
        self.factory = factory

    def on_observation(self, tx: Transaction, observation: Observation, patient_id: str,
                       cause: dict[str, Any]) -> list[dict[str, Any]]:
        """Score, then maybe learn, one numeric reading; return an AnomalyDetected when a run starts."""
        if observation.parameter not in MIN_STD or observation.value is None:
            return []
        blob = tx.load_model(patient_id, observation.parameter.value)
        model = StreamModel(observation.parameter) if blob is None else pickle.loads(blob)

        events: list[dict[str, Any]] = []
        value = observation.value
        if model.learned < self.warmup:
            model.learn(value)
        else:
            score = model.score(value)
            if score >= self.threshold:
                if not model.in_anomaly:
                    events.append(self._anomaly_event(model, observation, patient_id, score, cause))
                model.in_anomaly = True
            else:
                model.in_anomaly = False
                model.learn(value)

        tx.save_model(patient_id, observation.parameter.value, pickle.dumps(model))
        return events

    def _anomaly_event(self, model: StreamModel, observation: Observation, patient_id: str, score: float,
                       cause: dict[str, Any]) -> dict[str, Any]:
        alert_id = deterministic_id(DETECTOR["name"], DETECTOR["version"], observation.event_id, observation.parameter.value)
        body = {
            "alert_id": alert_id,
            "detector": dict(DETECTOR),
            "parameter": observation.parameter.value,
            "value": observation.value,
            "unit": UNITS[observation.parameter],
            "score": round(score, 4),
            "threshold": self.threshold,
            "baseline": {"mean": model.mean, "std": model.std, "readings_learned": float(model.learned)},
            "context": {},
            "input_event_id": observation.event_id,
            "observed_at": observation.occurred_at,
        }
        logger.info("anomaly in %s of patient %s, reading %s, score %.2f",
                    observation.parameter.value, patient_id, observation.event_id, score)
        return self.factory.make(
            "AnomalyDetected", body, event_id=alert_id, patient_id=patient_id, aggregate_id=alert_id,
            aggregate_version=1, prev_hash=None, occurred_at=observation.occurred_at, cause=cause,
        )
