"""Build synthetic detector inputs (readings, results, scale changes, charges) as Avro-ready events.

Patients are synthetic; codes are LOINC as HEALS' default NEWS2 table maps them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from heals.envelope import new_envelope, seal

LOINC = "http://loinc.org"
LOCAL = "urn:heals:news2"

# Parameter -> (code system, code) of a charted observation.
VITAL_CODES = {
    "respiration_rate": (LOINC, "9279-1"),
    "spo2": (LOINC, "59408-5"),
    "systolic_bp": (LOINC, "8480-6"),
    "pulse": (LOINC, "8867-4"),
    "temperature": (LOINC, "8310-5"),
    "consciousness": (LOCAL, "ACVPU"),
    "supplemental_oxygen": (LOCAL, "air-or-oxygen"),
}
UNITS = {"respiration_rate": "/min", "spo2": "%", "systolic_bp": "mm[Hg]", "pulse": "/min", "temperature": "Cel"}


def _envelope(event_type: str, patient_id: str, occurred_at: dt.datetime, aggregate_id: str) -> dict[str, Any]:
    return new_envelope(
        event_type=event_type, tenant_id="default", patient_id=patient_id, aggregate_id=aggregate_id,
        aggregate_version=1, occurred_at=occurred_at, source_system="tests", correlation_id=str(uuid.uuid4()),
    )


def reading(patient_id: str, parameter: str, value: Any, occurred_at: dt.datetime) -> dict[str, Any]:
    """Return a DeviceReadingRecorded for one NEWS2 parameter; ACVPU and air/oxygen take a code value."""
    system, code = VITAL_CODES[parameter]
    coded = parameter in ("consciousness", "supplemental_oxygen")
    event = {
        "envelope": _envelope("DeviceReadingRecorded", patient_id, occurred_at, "device-bed-1"),
        "device_id": "device-bed-1",
        "code": {"code": code, "system": system, "display": parameter},
        "value_quantity": None if coded else {"value": float(value), "unit": UNITS[parameter], "unit_system": None},
        "value_code": {"code": value, "system": LOCAL, "display": None} if coded else None,
        "value_text": None,
        "bound_to_patient": True,
    }
    return seal(event, None)


def observation_set(patient_id: str, occurred_at: dt.datetime, *, rr: float, spo2: float, oxygen: str = "air",
                    sbp: float, pulse: float, acvpu: str = "A", temp: float) -> list[dict[str, Any]]:
    """Return the seven readings of one full NEWS2 observation set."""
    values = {"respiration_rate": rr, "spo2": spo2, "supplemental_oxygen": oxygen, "systolic_bp": sbp,
              "pulse": pulse, "consciousness": acvpu, "temperature": temp}
    return [reading(patient_id, parameter, value, occurred_at) for parameter, value in values.items()]


def result(patient_id: str, result_id: str, value: float, occurred_at: dt.datetime, *, status: str = "final",
           loinc: str = "2823-3", unit: str = "mmol/L", corrects: str | None = None) -> dict[str, Any]:
    """Return a ResultRecorded, by default a serum potassium."""
    event = {
        "envelope": _envelope("ResultRecorded", patient_id, occurred_at, f"order-{result_id}"),
        "order_id": f"order-{result_id}",
        "result_id": result_id,
        "code": {"code": loinc, "system": LOINC, "display": "Potassium"},
        "status": status,
        "value_quantity": {"value": value, "unit": unit, "unit_system": None},
        "value_code": None,
        "value_text": None,
        "reference_range": "3.5-5.1",
        "abnormal_flags": [],
        "corrects_event_id": corrects,
    }
    return seal(event, None)


def scale_assigned(patient_id: str, scale: int, occurred_at: dt.datetime) -> dict[str, Any]:
    """Return a Spo2ScaleAssigned."""
    return seal({"envelope": _envelope("Spo2ScaleAssigned", patient_id, occurred_at, patient_id),
                 "scale": scale, "reason": "hypercapnic respiratory failure"}, None)


def charge(patient_id: str, code: str, department: str, amount: float, occurred_at: dt.datetime) -> dict[str, Any]:
    """Return a ChargePosted in USD."""
    event = {
        "envelope": _envelope("ChargePosted", patient_id, occurred_at, f"account-{patient_id}"),
        "account_id": f"account-{patient_id}",
        "charge_id": str(uuid.uuid4()),
        "code": {"code": code, "system": "CPT", "display": None},
        "quantity": 1.0,
        "unit_price": None,
        "extended_amount": {"amount": Decimal(str(amount)).quantize(Decimal("0.0001")), "currency": "USD"},
        "department": department,
        "modifiers": [],
        "transaction_date": occurred_at.date().isoformat(),
    }
    return seal(event, None)


def deteriorating_series(patient_id: str, start: dt.datetime, *, stable_sets: int, worsening_sets: int,
                         minutes_apart: int = 15) -> list[dict[str, Any]]:
    """Return stable observation sets followed by a steady deterioration towards sepsis-like values."""
    events = []
    for index in range(stable_sets):
        at = start + dt.timedelta(minutes=minutes_apart * index)
        wobble = (index % 3) - 1
        events += observation_set(patient_id, at, rr=16 + wobble, spo2=97 + (index % 2), sbp=124 + 2 * wobble,
                                  pulse=76 + 2 * wobble, temp=36.8 + 0.1 * wobble)
    for step in range(1, worsening_sets + 1):
        at = start + dt.timedelta(minutes=minutes_apart * (stable_sets + step))
        events += observation_set(patient_id, at, rr=16 + 1.5 * step, spo2=97 - step * 0.8, sbp=124 - 5 * step,
                                  pulse=76 + 7 * step, temp=36.8 + 0.25 * step)
    return events
