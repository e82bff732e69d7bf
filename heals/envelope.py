"""The event envelope, and the per-aggregate hash chain that proves nothing was altered.

Each event's hash is SHA-256 over the previous event's hash and a canonical
JSON form of the event itself (every field but ``hash``), so changing,
removing or reordering one stored event breaks every later link of its
aggregate's chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any

__all__ = ["new_envelope", "chain_hash", "canonical_json", "seal", "utc_now"]

SCHEMA_VERSION = 1


def utc_now() -> dt.datetime:
    """Return the current time in UTC, at microsecond precision."""
    return dt.datetime.now(dt.timezone.utc)


def new_envelope(
    *,
    event_type: str,
    tenant_id: str,
    patient_id: str | None,
    aggregate_id: str,
    aggregate_version: int,
    occurred_at: dt.datetime,
    source_system: str,
    correlation_id: str,
    encounter_id: str | None = None,
    occurred_at_offset_minutes: int | None = None,
    recorded_at: dt.datetime | None = None,
    causation_id: str | None = None,
    message_type: str | None = None,
    message_control_id: str | None = None,
    actor: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Build an envelope; ``prev_hash`` and ``hash`` are filled by seal()."""
    if occurred_at.tzinfo is None:
        raise ValueError(f"occurred_at must carry a time zone, got naive {occurred_at.isoformat()}")
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": SCHEMA_VERSION,
        "tenant_id": tenant_id,
        "patient_id": patient_id,
        "encounter_id": encounter_id,
        "aggregate_id": aggregate_id,
        "aggregate_version": aggregate_version,
        "occurred_at": occurred_at.astimezone(dt.timezone.utc),
        "occurred_at_offset_minutes": occurred_at_offset_minutes,
        "recorded_at": (recorded_at or utc_now()).astimezone(dt.timezone.utc),
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "source": {"system": source_system, "message_type": message_type, "message_control_id": message_control_id},
        "actor": actor,
        "prev_hash": None,
        "hash": "",
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def canonical_json(event: dict[str, Any]) -> bytes:
    """Return the event as canonical JSON without its own hash, the input of chain_hash()."""
    envelope = {key: value for key, value in event["envelope"].items() if key != "hash"}
    body = {**event, "envelope": envelope}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default).encode("utf-8")


def chain_hash(prev_hash: str | None, event: dict[str, Any]) -> str:
    """Return the hash of an event chained to its predecessor's hash."""
    digest = hashlib.sha256()
    digest.update((prev_hash or "").encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(event))
    return digest.hexdigest()


def seal(event: dict[str, Any], prev_hash: str | None) -> dict[str, Any]:
    """Set prev_hash and hash on the event's envelope in place and return the event."""
    event["envelope"]["prev_hash"] = prev_hash
    event["envelope"]["hash"] = chain_hash(prev_hash, event)
    return event
