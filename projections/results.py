"""Results per patient: the current value of each observation, its flags and its correction history.

Abnormal and critical follow the HL7 table 0078 flags the source sent:
any flag other than N is abnormal, and HH, LL and AA (critically high, low
or abnormal) are critical.
"""

from __future__ import annotations

from typing import Any, Iterable

from heals.projections.journal import json_dumps
from heals.projections.model import DerivedRow, Projection, Table

__all__ = ["RESULTS", "CRITICAL_FLAGS", "NORMAL_FLAGS"]

CRITICAL_FLAGS = frozenset({"HH", "LL", "AA"})
NORMAL_FLAGS = frozenset({"", "N"})

RESULT_ROWS = Table(
    "results",
    (
        ("result_key", "text NOT NULL"),
        ("order_id", "text NOT NULL"),
        ("result_id", "text NOT NULL"),
        ("patient_id", "text NOT NULL"),
        ("encounter_id", "text"),
        ("code", "text NOT NULL"),
        ("code_system", "text"),
        ("code_display", "text"),
        ("status", "text NOT NULL"),
        ("value_quantity", "double precision"),
        ("value_unit", "text"),
        ("value_code", "text"),
        ("value_text", "text"),
        ("reference_range", "text"),
        ("abnormal_flags", "jsonb NOT NULL"),
        ("abnormal", "boolean NOT NULL"),
        ("critical", "boolean NOT NULL"),
        ("observed_at", "timestamptz NOT NULL"),
        ("corrected", "boolean NOT NULL"),
        ("history", "jsonb NOT NULL"),
    ),
    key_column="result_key",
    primary_key=("result_key",),
    indexes=(("patient_id", "observed_at"),),
)


def _version(row: dict[str, Any]) -> dict[str, Any]:
    body = row["body"]
    quantity = body.get("value_quantity") or {}
    value_code = body.get("value_code") or {}
    flags = list(body.get("abnormal_flags") or [])
    return {
        "event_id": str(row["event_id"]),
        "status": body["status"],
        "value_quantity": quantity.get("value"),
        "value_unit": quantity.get("unit"),
        "value_code": value_code.get("code"),
        "value_text": body.get("value_text"),
        "reference_range": body.get("reference_range"),
        "abnormal_flags": flags,
        "occurred_at": row["occurred_at"].isoformat(),
        "recorded_at": row["recorded_at"].isoformat(),
    }


class ResultsProjection(Projection):
    """Observations by order and result id, from the results topic."""

    def key_part(self, event_type: str, value: dict[str, Any]) -> str | None:
        return f"{value['order_id']}/{value['result_id']}"

    def fold(self, key: str, events: list[dict[str, Any]]) -> Iterable[DerivedRow]:
        if not events:
            return
        # Each recorded version supersedes the one before; earlier versions stay as history.
        versions = [_version(row) for row in events]
        current, last = versions[-1], events[-1]
        body = last["body"]
        flags = current["abnormal_flags"]
        yield DerivedRow(RESULT_ROWS.name, {
            "result_key": key,
            "order_id": body["order_id"],
            "result_id": body["result_id"],
            "patient_id": last["patient_id"],
            "encounter_id": body["envelope"].get("encounter_id"),
            "code": body["code"]["code"],
            "code_system": body["code"].get("system"),
            "code_display": body["code"].get("display"),
            "status": current["status"],
            "value_quantity": current["value_quantity"],
            "value_unit": current["value_unit"],
            "value_code": current["value_code"],
            "value_text": current["value_text"],
            "reference_range": current["reference_range"],
            "abnormal_flags": json_dumps(flags),
            "abnormal": any(flag not in NORMAL_FLAGS for flag in flags),
            "critical": any(flag in CRITICAL_FLAGS for flag in flags),
            "observed_at": events[0]["occurred_at"],
            "corrected": any(v["status"] == "corrected" for v in versions),
            "history": json_dumps(versions[:-1]),
        }, last)


RESULTS = ResultsProjection(
    name="results",
    topic_roles=("results", "adt"),
    event_types=frozenset({"ResultRecorded"}),
    keyed_by="key_part",
    tables=(RESULT_ROWS,),
)
