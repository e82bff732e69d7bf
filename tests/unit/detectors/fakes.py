"""In-memory stand-ins for the detector store's transaction, for tests of pure detector logic."""

from __future__ import annotations

import datetime as dt
import itertools

from heals.streams.detectors.events import AlertFactory

START = dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.timezone.utc)


class ModelOnlyTransaction:
    """Keeps river models and rejections in dictionaries, like the PostgreSQL transaction does."""

    def __init__(self) -> None:
        self.models: dict[tuple[str, str], bytes] = {}
        self.rejected: list[tuple[str, str, str]] = []

    def load_model(self, patient_id: str, parameter: str) -> bytes | None:
        return self.models.get((patient_id, parameter))

    def save_model(self, patient_id: str, parameter: str, model: bytes) -> None:
        self.models[(patient_id, parameter)] = model

    def reject(self, event_id: str, detector: str, reason: str) -> None:
        self.rejected.append((event_id, detector, reason))


def fixed_clock(start: dt.datetime = START, step: dt.timedelta = dt.timedelta(seconds=1)):
    """Return a clock that advances by one step on every call."""
    ticks = itertools.count()
    return lambda: start + next(ticks) * step


def factory() -> AlertFactory:
    return AlertFactory("tenant-test", fixed_clock())


def cause(event_id: str, occurred_at: dt.datetime, patient_id: str = "patient-1") -> dict:
    return {"event_id": event_id, "tenant_id": "tenant-test", "correlation_id": event_id, "encounter_id": None,
            "patient_id": patient_id, "occurred_at": occurred_at}
