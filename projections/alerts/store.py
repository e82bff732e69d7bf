"""The alerts read model: one row per alert, folded from clinical.alerts.v1.

| event | effect on the row |
| --- | --- |
| EarlyWarningScoreChanged | new row, status open; the superseded score's row becomes superseded |
| AnomalyDetected, CriticalResultRaised | new row, status open |
| AlertAcknowledged | acknowledged_by and acknowledged_at set; status acknowledged unless resolved |
| AlertEscalated | escalated_at set; status escalated unless acknowledged or resolved |
| AlertResolved | status resolved with the reason |

Applying an event twice changes nothing: applied event ids are recorded in
the same transaction as the row change.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

__all__ = ["AlertsStore", "summarise"]

DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.alerts (
    alert_id text PRIMARY KEY,
    patient_id text,
    kind text NOT NULL,
    status text NOT NULL,
    detector text NOT NULL,
    detector_version text NOT NULL,
    summary jsonb NOT NULL,
    raised_at timestamptz NOT NULL,
    acknowledged_by text,
    acknowledged_at timestamptz,
    escalated_at timestamptz,
    resolved_at timestamptz,
    resolution text,
    superseded_by text,
    version bigint NOT NULL,
    last_hash text NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_patient ON {schema}.alerts (patient_id, raised_at DESC);
CREATE INDEX IF NOT EXISTS alerts_by_status ON {schema}.alerts (status, raised_at DESC);
CREATE TABLE IF NOT EXISTS {schema}.applied_events (
    event_id text PRIMARY KEY
);
"""

_RAISING = {"EarlyWarningScoreChanged", "AnomalyDetected", "CriticalResultRaised"}
_COLUMNS = ("alert_id, patient_id, kind, status, detector, detector_version, summary, raised_at, acknowledged_by,"
            " acknowledged_at, escalated_at, resolved_at, resolution, superseded_by, version, last_hash")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def summarise(event: dict[str, Any]) -> dict[str, Any]:
    """Return the event body without its envelope, as JSON-ready values."""
    body = {key: value for key, value in event.items() if key != "envelope"}
    return json.loads(json.dumps(body, default=_json_default))


class AlertsStore:
    """Alert rows in one PostgreSQL schema."""

    def __init__(self, url: str, schema: str) -> None:
        self.schema = sql.Identifier(schema)
        self.connection = psycopg.connect(url, autocommit=True, row_factory=dict_row)

    def _execute(self, query: str, params: tuple | dict = ()) -> psycopg.Cursor:
        return self.connection.execute(sql.SQL(query).format(schema=self.schema), params)

    def create(self) -> None:
        """Create the schema and tables if they do not exist."""
        with self.connection.transaction():
            self._execute(DDL)

    def drop(self) -> None:
        """Drop the schema; for tests."""
        with self.connection.transaction():
            self._execute("DROP SCHEMA IF EXISTS {schema} CASCADE")

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def apply(self, event: dict[str, Any]) -> bool:
        """Fold one alert event into the rows; False when it was already applied."""
        envelope = event["envelope"]
        event_type = envelope["event_type"]
        with self.connection.transaction():
            claimed = self._execute(
                "INSERT INTO {schema}.applied_events (event_id) VALUES (%s) ON CONFLICT DO NOTHING",
                (envelope["event_id"],),
            ).rowcount
            if not claimed:
                return False
            if event_type in _RAISING:
                self._insert(event)
            elif event_type == "AlertAcknowledged":
                self._update(event, "acknowledged_by = %(by)s, acknowledged_at = %(at)s,"
                             " status = CASE WHEN status = 'resolved' THEN status ELSE 'acknowledged' END",
                             by=event["acknowledged_by"], at=event["acknowledged_at"])
            elif event_type == "AlertEscalated":
                self._update(event, "escalated_at = %(at)s,"
                             " status = CASE WHEN status = 'open' THEN 'escalated' ELSE status END",
                             at=event["escalated_at"])
            elif event_type == "AlertResolved":
                self._update(event, "status = 'resolved', resolved_at = %(at)s, resolution = %(reason)s",
                             at=event["resolved_at"], reason=event["reason"])
        return True

    def _insert(self, event: dict[str, Any]) -> None:
        envelope = event["envelope"]
        self._execute(
            "INSERT INTO {schema}.alerts (alert_id, patient_id, kind, status, detector, detector_version, summary,"
            " raised_at, version, last_hash) VALUES (%s, %s, %s, 'open', %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (alert_id) DO NOTHING",
            (event["alert_id"], envelope["patient_id"], envelope["event_type"], event["detector"]["name"],
             event["detector"]["version"], json.dumps(summarise(event)), envelope["occurred_at"],
             envelope["aggregate_version"], envelope["hash"]),
        )
        superseded = event.get("supersedes_event_id")
        if superseded:
            self._execute(
                "UPDATE {schema}.alerts SET status = 'superseded', superseded_by = %s WHERE alert_id = %s",
                (event["alert_id"], superseded),
            )

    def _update(self, event: dict[str, Any], assignments: str, **values: Any) -> None:
        envelope = event["envelope"]
        self._execute(
            "UPDATE {schema}.alerts SET " + assignments + ", version = GREATEST(version, %(version)s),"
            " last_hash = CASE WHEN %(version)s >= version THEN %(hash)s ELSE last_hash END"
            " WHERE alert_id = %(alert_id)s",
            {**values, "version": envelope["aggregate_version"], "hash": envelope["hash"], "alert_id": event["alert_id"]},
        )

    def get(self, alert_id: str) -> dict[str, Any] | None:
        """Return one alert row."""
        return self._execute(f"SELECT {_COLUMNS} FROM {{schema}}.alerts WHERE alert_id = %s", (alert_id,)).fetchone()

    def list(self, *, status: str | None = None, patient_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Return alerts, newest first, filtered by status and patient when given."""
        return self._execute(
            f"SELECT {_COLUMNS} FROM {{schema}}.alerts"
            " WHERE (%(status)s::text IS NULL OR status = %(status)s)"
            " AND (%(patient)s::text IS NULL OR patient_id = %(patient)s)"
            " ORDER BY raised_at DESC, alert_id LIMIT %(limit)s",
            {"status": status, "patient": patient_id, "limit": limit},
        ).fetchall()
