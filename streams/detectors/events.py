"""Build alert events: the envelope, deterministic event ids and the per-aggregate hash chain."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Callable

from heals.envelope import new_envelope, seal

__all__ = ["AlertFactory", "deterministic_id"]

SOURCE_SYSTEM = "heals.streams.detectors"
_NAMESPACE = uuid.UUID("6f1c3f0e-4b7a-4f55-9d57-2b8c3a0d1e42")


def deterministic_id(*parts: str) -> str:
    """Return a UUID derived from the parts, so a replay or redelivery reproduces the same event id."""
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


class AlertFactory:
    """Make sealed alert events with the envelope filled in from their cause."""

    def __init__(self, tenant_id: str, clock: Callable[[], dt.datetime]) -> None:
        self.tenant_id = tenant_id
        self.clock = clock

    def make(
        self,
        event_type: str,
        body: dict[str, Any],
        *,
        event_id: str,
        patient_id: str | None,
        aggregate_id: str,
        aggregate_version: int,
        prev_hash: str | None,
        occurred_at: dt.datetime,
        cause: dict[str, Any] | None = None,
        encounter_id: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Return a sealed event; ``cause`` is the envelope of the input that led to it."""
        envelope = new_envelope(
            event_type=event_type,
            tenant_id=cause["tenant_id"] if cause else self.tenant_id,
            patient_id=patient_id,
            encounter_id=encounter_id if encounter_id is not None else (cause or {}).get("encounter_id"),
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            occurred_at=occurred_at,
            recorded_at=self.clock(),
            source_system=SOURCE_SYSTEM,
            correlation_id=cause["correlation_id"] if cause else event_id,
            causation_id=cause["event_id"] if cause else None,
            actor=actor,
            event_id=event_id,
        )
        return seal({"envelope": envelope, **body}, prev_hash)
