"""Score each posted charge with the current charge-anomaly model version."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from heals.streams.detectors.charge_model import ChargeModel, charge_features, current_path, load_current
from heals.streams.detectors.events import AlertFactory, deterministic_id
from heals.streams.detectors.store import Transaction

__all__ = ["ChargeAnomalyDetector", "DETECTOR_NAME"]

logger = logging.getLogger(__name__)

DETECTOR_NAME = "charge-anomaly"


class ChargeAnomalyDetector:
    """Flag ChargePosted events the current IsolationForest finds unusual."""

    def __init__(self, model_dir: Path, factory: AlertFactory) -> None:
        self.model_dir = model_dir
        self.factory = factory
        self._model: ChargeModel | None = None
        self._model_path: Path | None = None

    def model(self) -> ChargeModel | None:
        """Return the current model version, loading a newer one when training has replaced it."""
        path = current_path(self.model_dir)
        if path != self._model_path:
            self._model = load_current(self.model_dir)
            self._model_path = path
            if self._model is not None:
                logger.info("charge-anomaly model %s loaded", self._model.version)
        return self._model

    def on_charge(self, tx: Transaction, charge: dict[str, Any]) -> list[dict[str, Any]]:
        """Score one ChargePosted; return an AnomalyDetected when it is unusual."""
        envelope = charge["envelope"]
        model = self.model()
        if model is None:
            tx.reject(envelope["event_id"], DETECTOR_NAME, "no charge-anomaly model trained yet")
            return []
        features = charge_features(charge)
        score = model.score(features)
        if not model.is_anomalous(score):
            return []

        alert_id = deterministic_id(DETECTOR_NAME, model.version, envelope["event_id"])
        body = {
            "alert_id": alert_id,
            "detector": {"name": DETECTOR_NAME, "version": model.version},
            "parameter": "charge_amount",
            "value": float(charge["extended_amount"]["amount"]),
            "unit": charge["extended_amount"]["currency"],
            "score": score,
            "threshold": model.threshold,
            "baseline": {"training_charges": float(model.training_charges), "quantile": model.quantile},
            "context": {
                "account_id": charge["account_id"],
                "charge_id": charge["charge_id"],
                "code": features["code"],
                "department": features["department"],
            },
            "input_event_id": envelope["event_id"],
            "observed_at": envelope["occurred_at"],
        }
        logger.info("charge event %s flagged by model %s, score %.3f", envelope["event_id"], model.version, score)
        return [self.factory.make(
            "AnomalyDetected", body, event_id=alert_id, patient_id=envelope["patient_id"], aggregate_id=alert_id,
            aggregate_version=1, prev_hash=None, occurred_at=envelope["occurred_at"], cause=envelope,
        )]
