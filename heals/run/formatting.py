"""One-line renderings of census rows, timeline entries and alerts for the demo's report."""

from __future__ import annotations

import collections
from typing import Any

__all__ = ["census_line", "timeline_lines", "alert_line"]


def _clock(timestamp: str | None) -> str:
    # "2026-12-04T07:05:00+00:00" -> "07:05"; anything else as it is.
    if timestamp and len(timestamp) >= 16 and timestamp[10] == "T":
        return timestamp[11:16]
    return timestamp or "?"


def census_line(row: dict[str, Any]) -> str:
    """Return ward, room, bed, patient and admission time of one census row."""
    bed = f"{row.get('ward') or '?'} {row.get('room') or ''}-{row.get('bed') or ''}"
    return f"{bed:16} patient {row.get('patient_id')}  admitted {_clock(row.get('admitted_at'))}  visit {row.get('encounter_id')}"


def _describe(entry: dict[str, Any]) -> str:
    data = entry.get("data") or {}
    kind = entry.get("event_type")
    if kind in ("PatientAdmitted",):
        location = data.get("location") or {}
        return f"to {location.get('ward')} {location.get('room')}-{location.get('bed')}"
    if kind == "PatientTransferred":
        location = data.get("to_location") or {}
        return f"to {location.get('ward')} {location.get('room')}-{location.get('bed')}"
    if kind == "OrderPlaced":
        return f"{(data.get('service') or {}).get('display')} ({data.get('department')})"
    if kind == "ResultRecorded":
        quantity = data.get("value_quantity") or {}
        flags = ",".join(data.get("abnormal_flags") or [])
        return f"{(data.get('code') or {}).get('display')} {quantity.get('value')} {quantity.get('unit')} {flags} [{data.get('status')}]"
    if kind == "ChargePosted":
        amount = data.get("extended_amount") or {}
        return f"{(data.get('code') or {}).get('code')} {amount.get('amount')} {amount.get('currency')}"
    return ""


def timeline_lines(entries: list[dict[str, Any]], limit: int = 15) -> list[str]:
    """Return event counts by type, then the clinical entries other than device readings."""
    counts = collections.Counter(entry.get("event_type") for entry in entries)
    lines = ["events: " + ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))]
    readings = [e for e in entries if e.get("event_type") == "DeviceReadingRecorded"]
    if readings:
        lines.append(
            f"{len(readings)} device readings from {_clock(readings[0].get('occurred_at'))} "
            f"to {_clock(readings[-1].get('occurred_at'))}"
        )
    for entry in [e for e in entries if e.get("event_type") != "DeviceReadingRecorded"][:limit]:
        lines.append(f"{_clock(entry.get('occurred_at'))}  {entry.get('event_type'):22} {_describe(entry)}")
    return lines


def alert_line(alert: dict[str, Any]) -> str:
    """Return patient, kind and the figures that explain one alert."""
    summary = alert.get("summary") or {}
    head = f"patient {alert.get('patient_id')}  {alert.get('kind')}  [{alert.get('status')}]"
    if alert.get("kind") == "EarlyWarningScoreChanged":
        if summary.get("state") == "incomplete":
            return f"{head} NEWS2 incomplete, missing {', '.join(summary.get('missing_parameters') or [])}"
        return f"{head} NEWS2 {summary.get('total')} ({summary.get('clinical_risk')} risk) at {_clock(summary.get('evaluated_at'))}"
    if alert.get("kind") == "CriticalResultRaised":
        code = summary.get("code") or {}
        return f"{head} {code.get('display')} {summary.get('value')} {summary.get('unit')} beyond {summary.get('direction')} limit {summary.get('limit')}"
    if alert.get("kind") == "AnomalyDetected":
        return f"{head} {summary.get('parameter')} {summary.get('value')} score {summary.get('score')}"
    return f"{head} raised {_clock(alert.get('raised_at'))}"
