"""Latest device reading per patient and observation code, with a short history."""

from __future__ import annotations

from typing import Any, Iterable

from heals.projections.journal import json_dumps
from heals.projections.model import DerivedRow, Projection, Table

__all__ = ["VITALS", "HISTORY_LENGTH"]

# Readings kept per patient and code: the latest plus the ones before it.
HISTORY_LENGTH = 10

VITAL_ROWS = Table(
    "vitals",
    (
        ("patient_id", "text NOT NULL"),
        ("code", "text NOT NULL"),
        ("code_system", "text"),
        ("code_display", "text"),
        ("value_quantity", "double precision"),
        ("value_unit", "text"),
        ("value_code", "text"),
        ("value_text", "text"),
        ("device_id", "text NOT NULL"),
        ("observed_at", "timestamptz NOT NULL"),
        ("history", "jsonb NOT NULL"),
    ),
    key_column="patient_id",
    primary_key=("patient_id", "code"),
)


def _reading(row: dict[str, Any]) -> dict[str, Any]:
    body = row["body"]
    quantity = body.get("value_quantity") or {}
    return {
        "event_id": str(row["event_id"]),
        "value_quantity": quantity.get("value"),
        "value_unit": quantity.get("unit"),
        "value_code": (body.get("value_code") or {}).get("code"),
        "value_text": body.get("value_text"),
        "device_id": body["device_id"],
        "observed_at": row["occurred_at"].isoformat(),
    }


class VitalsProjection(Projection):
    """Device readings by patient and code, from the readings topic."""

    def accepts(self, event_type: str, value: dict[str, Any]) -> bool:
        # A reading from a device not yet bound to a patient belongs to no chart.
        return super().accepts(event_type, value) and value.get("bound_to_patient", True)

    def key_part(self, event_type: str, value: dict[str, Any]) -> str | None:
        return value["code"]["code"]

    def journal_window(self) -> int | None:
        return HISTORY_LENGTH

    def fold(self, key: str, events: list[dict[str, Any]]) -> Iterable[DerivedRow]:
        by_code: dict[str, list[dict[str, Any]]] = {}
        for row in events:
            by_code.setdefault(row["key_part"], []).append(row)
        for code, rows in sorted(by_code.items()):
            rows = rows[-HISTORY_LENGTH:]
            latest = rows[-1]
            reading = _reading(latest)
            yield DerivedRow(VITAL_ROWS.name, {
                "patient_id": key,
                "code": code,
                "code_system": latest["body"]["code"].get("system"),
                "code_display": latest["body"]["code"].get("display"),
                "value_quantity": reading["value_quantity"],
                "value_unit": reading["value_unit"],
                "value_code": reading["value_code"],
                "value_text": reading["value_text"],
                "device_id": reading["device_id"],
                "observed_at": latest["occurred_at"],
                "history": json_dumps([_reading(row) for row in reversed(rows[:-1])]),
            }, latest)


VITALS = VitalsProjection(
    name="vitals",
    topic_roles=("readings", "adt"),
    event_types=frozenset({"DeviceReadingRecorded"}),
    keyed_by="patient_id",
    tables=(VITAL_ROWS,),
)
