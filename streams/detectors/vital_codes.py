"""The table of observation codes for each NEWS2 parameter, and the conversion of a reading into an Observation.

The default table covers LOINC and IEEE 11073 MDC (numeric code, partition
times 2**16 plus term code) for the five numeric vital signs. ACVPU and air
or oxygen have no single code that every source sends, so the table also
documents the codes HEALS accepts for them:

| parameter | codes | values |
| --- | --- | --- |
| consciousness | LOINC 67775-7 (level of responsiveness); local ``urn:heals:news2`` ``ACVPU`` | value_code or value_text A, C, V, P, U, or the words alert, confusion, voice, pain, unresponsive |
| supplemental_oxygen | local ``urn:heals:news2`` ``air-or-oxygen`` | air or oxygen (also AIR, O2) |
| supplemental_oxygen | LOINC 3151-8 (inhaled oxygen flow rate) | above 0 L/min is oxygen, 0 is air |
| supplemental_oxygen | LOINC 3150-0 (inhaled oxygen concentration) | above 21 % (or 0.21 as a fraction) is oxygen |

A deployment can replace the table with a JSON file named by
HEALS_DETECTORS_VITAL_CODES_FILE: an object of ``"system|code"`` or plain
``"code"`` keys to parameter names.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heals.errors import ConfigurationError
from heals.streams.detectors.news2 import AIR, OXYGEN, Observation, Parameter

__all__ = ["DEFAULT_CODES", "CodeTable", "SENTINEL_VALUES", "RejectedReading", "to_observation"]

logger = logging.getLogger(__name__)

LOCAL_SYSTEM = "urn:heals:news2"

DEFAULT_CODES: dict[str, Parameter] = {
    # Respiration rate: LOINC 9279-1, MDC_RESP_RATE.
    "9279-1": Parameter.RESPIRATION_RATE,
    "151562": Parameter.RESPIRATION_RATE,
    # SpO2: LOINC 59408-5 (by pulse oximetry), 2708-6 (arterial), MDC_PULS_OXIM_SAT_O2.
    "59408-5": Parameter.SPO2,
    "2708-6": Parameter.SPO2,
    "150456": Parameter.SPO2,
    # Systolic blood pressure: LOINC 8480-6, MDC_PRESS_BLD_NONINV_SYS, MDC_PRESS_BLD_ART_SYS.
    "8480-6": Parameter.SYSTOLIC_BP,
    "150021": Parameter.SYSTOLIC_BP,
    "150017": Parameter.SYSTOLIC_BP,
    # Pulse: LOINC 8867-4 (heart rate), 8889-8 (pulse by oximetry), MDC_ECG_HEART_RATE, MDC_PULS_OXIM_PULS_RATE.
    "8867-4": Parameter.PULSE,
    "8889-8": Parameter.PULSE,
    "147842": Parameter.PULSE,
    "149530": Parameter.PULSE,
    # Temperature: LOINC 8310-5 (body temperature), 8331-1 (oral), MDC_TEMP_BODY.
    "8310-5": Parameter.TEMPERATURE,
    "8331-1": Parameter.TEMPERATURE,
    "150364": Parameter.TEMPERATURE,
    "67775-7": Parameter.CONSCIOUSNESS,
    f"{LOCAL_SYSTEM}|ACVPU": Parameter.CONSCIOUSNESS,
    f"{LOCAL_SYSTEM}|air-or-oxygen": Parameter.SUPPLEMENTAL_OXYGEN,
    "3151-8": Parameter.SUPPLEMENTAL_OXYGEN,
    "3150-0": Parameter.SUPPLEMENTAL_OXYGEN,
}

# Bedside monitors send these for "not measured"; they are never measurements.
SENTINEL_VALUES = frozenset({-999.0, -99.9, -1.0})

_ACVPU_WORDS = {"alert": "A", "confusion": "C", "new confusion": "C", "voice": "V", "pain": "P", "unresponsive": "U"}
_AIR_OXYGEN_WORDS = {"air": AIR, "room air": AIR, "oxygen": OXYGEN, "o2": OXYGEN}


class RejectedReading(ValueError):
    """A reading maps to a NEWS2 parameter but its value cannot be scored."""

    def __init__(self, event_id: str, parameter: Parameter, reason: str) -> None:
        super().__init__(f"reading {event_id} ({parameter}) not scored: {reason}")
        self.event_id = event_id
        self.parameter = parameter
        self.reason = reason


@dataclass(frozen=True)
class CodeTable:
    """Observation code to NEWS2 parameter; keys are "system|code" or a bare code."""

    codes: dict[str, Parameter]

    @classmethod
    def load(cls, path: Path | None) -> "CodeTable":
        """Return the default table, or the one in a JSON file."""
        if path is None:
            return cls(dict(DEFAULT_CODES))
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls({key: Parameter(value) for key, value in raw.items()})
        except (OSError, json.JSONDecodeError, ValueError, AttributeError) as exc:
            raise ConfigurationError(
                f"invalid vital code table {path}: {exc}; expected an object of code to one of {[p.value for p in Parameter]}"
            ) from exc

    def parameter_of(self, code: dict[str, Any]) -> Parameter | None:
        """Return the parameter a Code record maps to, or None for codes NEWS2 does not use."""
        return self.codes.get(f"{code.get('system')}|{code['code']}") or self.codes.get(code["code"])


def to_observation(reading: dict[str, Any], table: CodeTable) -> Observation | None:
    """Turn a DeviceReadingRecorded value into an Observation in the chart's unit.

    Returns None for codes that NEWS2 does not use. Raises RejectedReading for
    a NEWS2 code whose value is a sentinel, missing or not understood.
    """
    parameter = table.parameter_of(reading["code"])
    if parameter is None:
        return None
    envelope = reading["envelope"]
    event_id = envelope["event_id"]
    occurred_at: dt.datetime = envelope["occurred_at"]
    quantity = reading.get("value_quantity")
    coded = (reading.get("value_code") or {}).get("code") or reading.get("value_text")

    if parameter is Parameter.CONSCIOUSNESS:
        level = _acvpu_level(coded)
        if level is None:
            raise RejectedReading(event_id, parameter, "value is not an ACVPU level")
        return Observation(parameter, event_id, occurred_at, code=level)

    if parameter is Parameter.SUPPLEMENTAL_OXYGEN:
        status = _air_or_oxygen(reading["code"]["code"], quantity, coded)
        if status is None:
            raise RejectedReading(event_id, parameter, "value is neither air nor oxygen")
        return Observation(parameter, event_id, occurred_at, code=status)

    if quantity is None:
        raise RejectedReading(event_id, parameter, "numeric parameter without value_quantity")
    value = float(quantity["value"])
    if value in SENTINEL_VALUES or value < 0:
        raise RejectedReading(event_id, parameter, f"value {value} is a not-measured sentinel or negative")
    return Observation(parameter, event_id, occurred_at, value=_to_chart_unit(parameter, value, quantity.get("unit")))


def _acvpu_level(coded: str | None) -> str | None:
    if not coded:
        return None
    text = coded.strip()
    if text.upper() in {"A", "C", "V", "P", "U"}:
        return text.upper()
    return _ACVPU_WORDS.get(text.lower())


def _air_or_oxygen(code: str, quantity: dict[str, Any] | None, coded: str | None) -> str | None:
    if code == "3151-8" and quantity is not None:
        return OXYGEN if quantity["value"] > 0 else AIR
    if code == "3150-0" and quantity is not None:
        percent = quantity["value"] * 100 if quantity["value"] <= 1 else quantity["value"]
        return OXYGEN if percent > 21 else AIR
    if coded:
        return _AIR_OXYGEN_WORDS.get(coded.strip().lower())
    return None


def _to_chart_unit(parameter: Parameter, value: float, unit: str | None) -> float:
    if parameter is Parameter.TEMPERATURE and unit in {"[degF]", "degF"}:
        return (value - 32) * 5 / 9
    if parameter is Parameter.SPO2 and unit == "1" and value <= 1:
        return value * 100
    return value
