"""The NEWS2 detector: recompute a patient's score on every reading and publish changes.

The score is recomputed from each parameter's newest reading (by
occurred_at) within the freshness window before the newest reading of the
patient. A late reading, one that occurred before the newest reading
already scored, triggers the same recomputation. When that changes the
score, the new event is marked as caused by a late input and names the
event it supersedes.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from heals.streams.detectors.events import AlertFactory, deterministic_id
from heals.streams.detectors.news2 import Assessment, Observation, Parameter, assess
from heals.streams.detectors.store import News2State, Transaction
from heals.streams.detectors.vital_codes import CodeTable, RejectedReading, to_observation

__all__ = ["EarlyWarningDetector", "DETECTOR"]

logger = logging.getLogger(__name__)

DETECTOR = {"name": "news2", "version": "1.0.0"}


class EarlyWarningDetector:
    """NEWS2 (Royal College of Physicians, 2017) over device readings and charted observations."""

    def __init__(self, codes: CodeTable, freshness: dt.timedelta, factory: AlertFactory) -> None:
        self.codes = codes
        self.freshness = freshness
        self.factory = factory

    def on_reading(self, tx: Transaction, reading: dict[str, Any]) -> list[dict[str, Any]]:
        """Store a DeviceReadingRecorded that feeds NEWS2 and return the score events it causes."""
        envelope = reading["envelope"]
        try:
            observation = to_observation(reading, self.codes)
        except RejectedReading as exc:
            logger.warning("NEWS2 rejected reading %s (%s): %s", exc.event_id, exc.parameter, exc.reason)
            tx.reject(exc.event_id, DETECTOR["name"], f"{exc.parameter}: {exc.reason}")
            return []
        if observation is None:
            return []
        patient_id = envelope["patient_id"]
        if not patient_id or not reading.get("bound_to_patient", True):
            tx.reject(envelope["event_id"], DETECTOR["name"], "reading is not bound to a patient")
            return []

        tx.add_reading(observation.event_id, patient_id, observation.parameter.value, observation.occurred_at,
                       observation.value, observation.code)
        state = tx.news2_state(patient_id)
        late = state.evaluated_at is not None and observation.occurred_at < state.evaluated_at
        evaluated_at = observation.occurred_at if state.evaluated_at is None else max(state.evaluated_at, observation.occurred_at)
        return self._reassess(tx, state, evaluated_at, envelope, late=late)

    def on_scale_assigned(self, tx: Transaction, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply a Spo2ScaleAssigned and rescore the patient's newest readings on the new scale."""
        envelope = event["envelope"]
        patient_id = envelope["patient_id"]
        if not patient_id or event["scale"] not in (1, 2):
            tx.reject(envelope["event_id"], DETECTOR["name"], f"scale {event['scale']!r} or patient id invalid")
            return []
        state = tx.news2_state(patient_id)
        state.spo2_scale = event["scale"]
        if state.evaluated_at is None:
            tx.save_news2_state(state)
            return []
        return self._reassess(tx, state, state.evaluated_at, envelope, late=False)

    def _reassess(self, tx: Transaction, state: News2State, evaluated_at: dt.datetime, cause: dict[str, Any],
                  *, late: bool) -> list[dict[str, Any]]:
        latest = {
            Parameter(parameter): Observation(Parameter(parameter), event_id, occurred_at, value, code)
            for parameter, event_id, occurred_at, value, code in tx.latest_readings(state.patient_id, evaluated_at)
        }
        assessment = assess(latest, spo2_scale=state.spo2_scale, evaluated_at=evaluated_at, freshness=self.freshness)
        state.evaluated_at = evaluated_at
        if not _changed(state, assessment):
            tx.save_news2_state(state)
            return []

        event = self._score_event(state, assessment, cause, late)
        state.state = assessment.state
        state.total = assessment.total
        state.clinical_risk = assessment.clinical_risk
        state.version += 1
        state.last_event_id = event["envelope"]["event_id"]
        state.last_hash = event["envelope"]["hash"]
        tx.save_news2_state(state)
        logger.debug("NEWS2 for patient %s is now %s %s", state.patient_id, assessment.state, assessment.total)
        return [event]

    def _score_event(self, state: News2State, assessment: Assessment, cause: dict[str, Any], late: bool) -> dict[str, Any]:
        version = state.version + 1
        event_id = deterministic_id(DETECTOR["name"], DETECTOR["version"], state.patient_id, cause["event_id"], str(version))
        body = {
            "alert_id": event_id,
            "detector": dict(DETECTOR),
            "state": assessment.state,
            "total": assessment.total,
            "clinical_risk": assessment.clinical_risk,
            "previous_total": state.total,
            "previous_clinical_risk": state.clinical_risk,
            "spo2_scale": assessment.spo2_scale,
            "components": [
                {
                    "parameter": component.observation.parameter.value,
                    "value": component.observation.value,
                    "value_code": component.observation.code,
                    "points": component.points,
                    "input_event_id": component.observation.event_id,
                    "observed_at": component.observation.occurred_at,
                }
                for component in assessment.components
            ],
            "missing_parameters": [parameter.value for parameter in assessment.missing],
            "trigger_event_id": cause["event_id"],
            "late_input": late,
            "supersedes_event_id": state.last_event_id,
            "evaluated_at": assessment.evaluated_at,
        }
        return self.factory.make(
            "EarlyWarningScoreChanged", body, event_id=event_id, patient_id=state.patient_id,
            aggregate_id=f"news2:{state.patient_id}", aggregate_version=version, prev_hash=state.last_hash,
            occurred_at=assessment.evaluated_at, cause=cause,
        )


def _changed(state: News2State, assessment: Assessment) -> bool:
    # Incomplete is published once on entering it; the missing list alone
    # changing while incomplete is not a change of score or band.
    if assessment.state == "incomplete":
        return state.state != "incomplete"
    return (state.state, state.total, state.clinical_risk) != ("scored", assessment.total, assessment.clinical_risk)
