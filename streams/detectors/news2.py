"""NEWS2 scoring: points per parameter, the aggregate score and the clinical-risk band.

Thresholds are those of the Royal College of Physicians, National Early Warning
Score (NEWS) 2, 2017: chart 1 ("The NEWS scoring system") for the points and
chart 2 ("NEWS thresholds and triggers") for the bands. Everything here is pure
and deterministic, so a replay of the same inputs gives the same scores.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

__all__ = [
    "ACVPU_LEVELS",
    "Assessment",
    "Parameter",
    "ScoredParameter",
    "Observation",
    "assess",
    "clinical_risk",
    "round_to_chart",
    "score_parameter",
]


class Parameter(StrEnum):
    """The seven NEWS2 parameters."""

    RESPIRATION_RATE = "respiration_rate"
    SPO2 = "spo2"
    SUPPLEMENTAL_OXYGEN = "supplemental_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    PULSE = "pulse"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"


# ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive.
ACVPU_LEVELS = ("A", "C", "V", "P", "U")
AIR = "air"
OXYGEN = "oxygen"


@dataclass(frozen=True)
class Observation:
    """One parameter's value from one reading, with the event it came from.

    ``value`` carries numeric parameters in the chart's unit (per minute, %,
    mmHg, degrees Celsius); ``code`` carries ACVPU levels and air or oxygen.
    """

    parameter: Parameter
    event_id: str
    occurred_at: dt.datetime
    value: float | None = None
    code: str | None = None


@dataclass(frozen=True)
class ScoredParameter:
    """One parameter's observation and the points it scores."""

    observation: Observation
    points: int


@dataclass(frozen=True)
class Assessment:
    """A NEWS2 result: a total and band when complete, the missing parameters otherwise."""

    spo2_scale: int
    evaluated_at: dt.datetime
    components: tuple[ScoredParameter, ...] = ()
    missing: tuple[Parameter, ...] = ()
    total: int | None = None
    clinical_risk: str | None = None

    @property
    def state(self) -> str:
        """scored or incomplete."""
        return "incomplete" if self.missing else "scored"

    @property
    def input_event_ids(self) -> list[str]:
        """Event ids of the readings behind the components."""
        return [component.observation.event_id for component in self.components]


def round_to_chart(parameter: Parameter, value: float) -> float:
    """Round a value to the chart's precision, half away from zero.

    Chart 1 gives temperature to one decimal place and the other numeric
    parameters as whole numbers, so 36.04 degrees C or 90.5 mmHg fall in a gap
    between bands. They are rounded first: 36.05 becomes 36.1 and 90.5 becomes 91.
    """
    places = Decimal("0.1") if parameter is Parameter.TEMPERATURE else Decimal("1")
    return float(Decimal(repr(value)).quantize(places, rounding=ROUND_HALF_UP))


def _respiration_rate(rate: float) -> int:
    if rate <= 8:
        return 3
    if rate <= 11:
        return 1
    if rate <= 20:
        return 0
    if rate <= 24:
        return 2
    return 3


def _spo2_scale_1(saturation: float) -> int:
    if saturation <= 91:
        return 3
    if saturation <= 93:
        return 2
    if saturation <= 95:
        return 1
    return 0


def _spo2_scale_2(saturation: float, on_oxygen: bool) -> int:
    # Scale 2 targets 88-92 %; at 93 % or more only a patient on oxygen scores,
    # because over-oxygenation risks hypercapnia.
    if saturation <= 83:
        return 3
    if saturation <= 85:
        return 2
    if saturation <= 87:
        return 1
    if saturation <= 92 or not on_oxygen:
        return 0
    if saturation <= 94:
        return 1
    if saturation <= 96:
        return 2
    return 3


def _systolic_bp(pressure: float) -> int:
    if pressure <= 90:
        return 3
    if pressure <= 100:
        return 2
    if pressure <= 110:
        return 1
    if pressure <= 219:
        return 0
    return 3


def _pulse(rate: float) -> int:
    if rate <= 40:
        return 3
    if rate <= 50:
        return 1
    if rate <= 90:
        return 0
    if rate <= 110:
        return 1
    if rate <= 130:
        return 2
    return 3


def _temperature(celsius: float) -> int:
    if celsius <= 35.0:
        return 3
    if celsius <= 36.0:
        return 1
    if celsius <= 38.0:
        return 0
    if celsius <= 39.0:
        return 1
    return 2


def score_parameter(observation: Observation, spo2_scale: int = 1, on_oxygen: bool = False) -> int:
    """Return the chart 1 points of one observation.

    ``on_oxygen`` matters only for SpO2 on scale 2; the 2 points for
    supplemental oxygen are scored on their own parameter.
    """
    parameter = observation.parameter
    if parameter is Parameter.SUPPLEMENTAL_OXYGEN:
        return 2 if observation.code == OXYGEN else 0
    if parameter is Parameter.CONSCIOUSNESS:
        return 0 if observation.code == "A" else 3
    if observation.value is None:
        raise ValueError(f"{parameter} observation {observation.event_id} has no numeric value")
    value = round_to_chart(parameter, observation.value)
    if parameter is Parameter.RESPIRATION_RATE:
        return _respiration_rate(value)
    if parameter is Parameter.SPO2:
        return _spo2_scale_2(value, on_oxygen) if spo2_scale == 2 else _spo2_scale_1(value)
    if parameter is Parameter.SYSTOLIC_BP:
        return _systolic_bp(value)
    if parameter is Parameter.PULSE:
        return _pulse(value)
    return _temperature(value)


def clinical_risk(total: int, points: list[int]) -> str:
    """Return the chart 2 band: high 7+, medium 5-6, low-medium for a single 3, low otherwise."""
    if total >= 7:
        return "high"
    if total >= 5:
        return "medium"
    if 3 in points:
        return "low-medium"
    return "low"


def assess(
    latest: dict[Parameter, Observation],
    *,
    spo2_scale: int,
    evaluated_at: dt.datetime,
    freshness: dt.timedelta,
) -> Assessment:
    """Score the latest observation of each parameter, or list what is missing.

    An observation counts when it occurred within ``freshness`` before
    ``evaluated_at``. A parameter with no such observation makes the whole
    assessment incomplete: a missing parameter is not a 0, so no partial
    total is ever returned.
    """
    fresh = {
        parameter: observation
        for parameter, observation in latest.items()
        if evaluated_at - freshness <= observation.occurred_at <= evaluated_at
    }
    missing = tuple(parameter for parameter in Parameter if parameter not in fresh)
    if missing:
        return Assessment(spo2_scale=spo2_scale, evaluated_at=evaluated_at, missing=missing)

    on_oxygen = fresh[Parameter.SUPPLEMENTAL_OXYGEN].code == OXYGEN
    components = tuple(
        ScoredParameter(fresh[parameter], score_parameter(fresh[parameter], spo2_scale, on_oxygen))
        for parameter in Parameter
    )
    points = [component.points for component in components]
    total = sum(points)
    return Assessment(
        spo2_scale=spo2_scale,
        evaluated_at=evaluated_at,
        components=components,
        total=total,
        clinical_risk=clinical_risk(total, points),
    )
