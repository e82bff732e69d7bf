"""Critical results: raise an alert outside critical limits, escalate it, resolve it on correction.

Default limits, by LOINC code, in the unit shown:

| analyte | LOINC | low | high | unit | source |
| --- | --- | --- | --- | --- | --- |
| potassium | 2823-3, 6298-4 | 2.8 | 6.2 | mmol/L | Kost, JAMA 1990;263:704-7, mean US adult limits |
| sodium | 2951-2, 2947-0 | 120 | 158 | mmol/L | Kost 1990 |
| glucose | 2345-7, 2339-0, 15074-8 | 2.6 | 26.9 | mmol/L | Kost 1990 |
| haemoglobin | 718-7 | 66 | | g/L | Kost 1990 |
| troponin I, high-sensitivity | 89579-7 | | 16 | ng/L | Hawke's Bay Hospital laboratory, hospital critical limits (16 women, 34 men) |
| lactate | 2524-7, 32693-4 | | 7.0 | mmol/L | Hawke's Bay Hospital laboratory, hospital critical limits |

A deployment replaces the table with a JSON list of limit objects named by
HEALS_DETECTORS_CRITICAL_LIMITS_FILE. A value equal to a limit is critical.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from heals.errors import ConfigurationError
from heals.streams.detectors.events import AlertFactory, deterministic_id
from heals.streams.detectors.store import OpenAlert, Transaction

__all__ = ["CriticalLimit", "CriticalResultDetector", "DEFAULT_LIMITS", "DETECTOR", "load_limits"]

logger = logging.getLogger(__name__)

DETECTOR = {"name": "critical-results", "version": "1.0.0"}

KOST_1990 = "Kost GJ. Critical limits for urgent clinician notification at US medical centers. JAMA 1990;263:704-7"
HAWKES_BAY = "Hawke's Bay Hospital laboratory manual, biochemistry critical ranges for hospital patients"


@dataclass(frozen=True)
class CriticalLimit:
    """Critical limits of one analyte, in one unit, with where they come from."""

    analyte: str
    loinc_codes: tuple[str, ...]
    unit: str
    low: float | None
    high: float | None
    source: str

    def crossed(self, value: float) -> tuple[str, float] | None:
        """Return ("low" or "high", the limit) when the value is critical, else None."""
        if self.low is not None and value <= self.low:
            return "low", self.low
        if self.high is not None and value >= self.high:
            return "high", self.high
        return None


# NOTE: the troponin limit is the lower, female limit of the source (16 ng/L;
# 34 ng/L for men) because the detector does not see the patient's sex, so
# men alert from 16 ng/L. A sex-aware limit needs the sex on the result event.
DEFAULT_LIMITS = (
    CriticalLimit("potassium", ("2823-3", "6298-4"), "mmol/L", 2.8, 6.2, KOST_1990),
    CriticalLimit("sodium", ("2951-2", "2947-0"), "mmol/L", 120, 158, KOST_1990),
    CriticalLimit("glucose", ("2345-7", "2339-0", "15074-8"), "mmol/L", 2.6, 26.9, KOST_1990),
    CriticalLimit("haemoglobin", ("718-7",), "g/L", 66, None, KOST_1990),
    CriticalLimit("troponin I high-sensitivity", ("89579-7",), "ng/L", None, 16, HAWKES_BAY),
    CriticalLimit("lactate", ("2524-7", "32693-4"), "mmol/L", None, 7.0, HAWKES_BAY),
)

# Result unit -> (limit unit, factor) for the units labs commonly send instead.
_CONVERSIONS: dict[tuple[str, str], Callable[[float], float]] = {
    ("mmol/l", "mmol/L"): lambda value: value,
    ("meq/l", "mmol/L"): lambda value: value,
    ("g/dl", "g/L"): lambda value: value * 10,
    ("pg/ml", "ng/L"): lambda value: value,
}
_GLUCOSE_MG_PER_DL_PER_MMOL_PER_L = 18.016


def load_limits(path: Path | None) -> dict[str, CriticalLimit]:
    """Return the limits by LOINC code, from the defaults or a JSON file."""
    limits = DEFAULT_LIMITS
    if path is not None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            limits = tuple(CriticalLimit(**{**item, "loinc_codes": tuple(item["loinc_codes"])}) for item in raw)
        except (OSError, json.JSONDecodeError, TypeError, KeyError) as exc:
            fields = list(asdict(DEFAULT_LIMITS[0]))
            raise ConfigurationError(f"invalid critical limits file {path}: {exc}; expected a list of objects with {fields}") from exc
    return {code: limit for limit in limits for code in limit.loinc_codes}


def _in_limit_unit(limit: CriticalLimit, value: float, unit: str | None) -> float | None:
    if unit is None or unit == limit.unit:
        return value
    if limit.analyte == "glucose" and unit.lower() == "mg/dl":
        return value / _GLUCOSE_MG_PER_DL_PER_MMOL_PER_L
    convert = _CONVERSIONS.get((unit.lower(), limit.unit))
    return None if convert is None else convert(value)


class CriticalResultDetector:
    """Raise, escalate and resolve critical-result alerts."""

    def __init__(self, limits: dict[str, CriticalLimit], escalate_after: dt.timedelta, factory: AlertFactory) -> None:
        self.limits = limits
        self.escalate_after = escalate_after
        self.factory = factory

    def on_result(self, tx: Transaction, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Check one ResultRecorded against its limits; return the alert events it causes."""
        limit = self.limits.get(result["code"]["code"])
        if limit is None:
            return []
        envelope = result["envelope"]
        patient_id = envelope["patient_id"]
        open_alert = tx.open_alert_for_result(patient_id, result["result_id"])

        if result["status"] == "cancelled":
            return [self._resolve(tx, open_alert, envelope, "result cancelled")] if open_alert else []
        quantity = result.get("value_quantity")
        value = None if quantity is None else _in_limit_unit(limit, quantity["value"], quantity.get("unit"))
        if value is None:
            reason = "no numeric value" if quantity is None else f"unit {quantity.get('unit')!r} not convertible to {limit.unit}"
            logger.warning("critical-result check skipped result event %s: %s", envelope["event_id"], reason)
            tx.reject(envelope["event_id"], DETECTOR["name"], reason)
            return []

        crossing = limit.crossed(value)
        if crossing is None:
            if open_alert is None:
                return []
            reason = "corrected result no longer critical" if result["status"] == "corrected" else "result no longer critical"
            return [self._resolve(tx, open_alert, envelope, reason)]
        if open_alert is not None:
            # A repeat or correction that is still critical keeps the one alert open.
            return []
        return [self._raise(tx, limit, crossing, value, result)]

    def on_acknowledged(self, tx: Transaction, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Mark a critical-result alert acknowledged, so it does not escalate."""
        alert = tx.alert(event["alert_id"])
        if alert is None:
            return []
        alert.acknowledged = True
        if alert.status == "open":
            alert.status = "acknowledged"
        alert.version = max(alert.version, event["envelope"]["aggregate_version"])
        alert.last_hash = event["envelope"]["hash"]
        tx.save_alert(alert)
        return []

    def escalate_due(self, tx: Transaction, now: dt.datetime) -> list[dict[str, Any]]:
        """Escalate every open alert left unacknowledged past its escalation time."""
        events = []
        for alert in tx.alerts_due(now):
            version = alert.version + 1
            event_id = deterministic_id(DETECTOR["name"], alert.alert_id, "escalated")
            body = {
                "alert_id": alert.alert_id,
                "detector": dict(DETECTOR),
                "raised_at": alert.raised_at,
                "escalated_at": now,
                "unacknowledged_seconds": int((now - alert.raised_at).total_seconds()),
            }
            event = self.factory.make(
                "AlertEscalated", body, event_id=event_id, patient_id=alert.patient_id, aggregate_id=alert.alert_id,
                aggregate_version=version, prev_hash=alert.last_hash, occurred_at=now,
            )
            alert.escalated = True
            alert.version = version
            alert.last_hash = event["envelope"]["hash"]
            tx.save_alert(alert)
            logger.info("escalated unacknowledged alert %s of patient %s", alert.alert_id, alert.patient_id)
            events.append(event)
        return events

    def _raise(self, tx: Transaction, limit: CriticalLimit, crossing: tuple[str, float], value: float,
               result: dict[str, Any]) -> dict[str, Any]:
        envelope = result["envelope"]
        alert_id = deterministic_id(DETECTOR["name"], DETECTOR["version"], envelope["event_id"])
        raised_at = self.factory.clock()
        direction, limit_value = crossing
        body = {
            "alert_id": alert_id,
            "detector": dict(DETECTOR),
            "order_id": result["order_id"],
            "result_id": result["result_id"],
            "code": result["code"],
            "value": value,
            "unit": limit.unit,
            "direction": direction,
            "limit": limit_value,
            "limit_source": limit.source,
            "escalate_after_seconds": int(self.escalate_after.total_seconds()),
            "input_event_id": envelope["event_id"],
        }
        event = self.factory.make(
            "CriticalResultRaised", body, event_id=alert_id, patient_id=envelope["patient_id"], aggregate_id=alert_id,
            aggregate_version=1, prev_hash=None, occurred_at=envelope["occurred_at"], cause=envelope,
        )
        tx.save_alert(OpenAlert(
            alert_id=alert_id, patient_id=envelope["patient_id"], result_id=result["result_id"], status="open",
            raised_at=raised_at, escalate_at=raised_at + self.escalate_after, acknowledged=False, escalated=False,
            version=1, last_hash=event["envelope"]["hash"],
        ))
        logger.info("critical %s result event %s raised alert %s", limit.analyte, envelope["event_id"], alert_id)
        return event

    def _resolve(self, tx: Transaction, alert: OpenAlert, envelope: dict[str, Any], reason: str) -> dict[str, Any]:
        version = alert.version + 1
        event_id = deterministic_id(DETECTOR["name"], alert.alert_id, "resolved", envelope["event_id"])
        body = {
            "alert_id": alert.alert_id,
            "detector": dict(DETECTOR),
            "reason": reason,
            "resolving_event_id": envelope["event_id"],
            "resolved_at": envelope["occurred_at"],
        }
        event = self.factory.make(
            "AlertResolved", body, event_id=event_id, patient_id=alert.patient_id, aggregate_id=alert.alert_id,
            aggregate_version=version, prev_hash=alert.last_hash, occurred_at=envelope["occurred_at"], cause=envelope,
        )
        alert.status = "resolved"
        alert.version = version
        alert.last_hash = event["envelope"]["hash"]
        tx.save_alert(alert)
        logger.info("resolved alert %s: %s", alert.alert_id, reason)
        return event
