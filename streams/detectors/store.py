"""Detector state in PostgreSQL: readings, scores, river models, open alerts and the outbox.

Each batch of input events is handled in one transaction that records the
event ids, updates the state and writes the alert events they caused to the
outbox. The
outbox is sent to Kafka after the commit, so a crash at any point either
redoes the whole event or resends alerts with the same event ids, which the
alerts projection deduplicates.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import psycopg
from psycopg import sql

__all__ = ["DetectorStore", "Transaction", "News2State", "OpenAlert", "OutboxRecord"]

logger = logging.getLogger(__name__)

DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.processed_events (
    event_id text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.vital_readings (
    event_id text PRIMARY KEY,
    patient_id text NOT NULL,
    parameter text NOT NULL,
    occurred_at timestamptz NOT NULL,
    value double precision,
    code text
);
CREATE INDEX IF NOT EXISTS vital_readings_latest
    ON {schema}.vital_readings (patient_id, parameter, occurred_at DESC);
CREATE TABLE IF NOT EXISTS {schema}.rejected_inputs (
    event_id text NOT NULL,
    detector text NOT NULL,
    reason text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, detector)
);
CREATE TABLE IF NOT EXISTS {schema}.news2_state (
    patient_id text PRIMARY KEY,
    spo2_scale int NOT NULL DEFAULT 1,
    evaluated_at timestamptz,
    state text,
    total int,
    clinical_risk text,
    last_event_id text,
    version bigint NOT NULL DEFAULT 0,
    last_hash text
);
CREATE TABLE IF NOT EXISTS {schema}.stream_models (
    patient_id text NOT NULL,
    parameter text NOT NULL,
    model bytea NOT NULL,
    PRIMARY KEY (patient_id, parameter)
);
CREATE TABLE IF NOT EXISTS {schema}.critical_alerts (
    alert_id text PRIMARY KEY,
    patient_id text NOT NULL,
    result_id text NOT NULL,
    status text NOT NULL,
    raised_at timestamptz NOT NULL,
    escalate_at timestamptz NOT NULL,
    acknowledged boolean NOT NULL DEFAULT false,
    escalated boolean NOT NULL DEFAULT false,
    version bigint NOT NULL,
    last_hash text NOT NULL
);
CREATE INDEX IF NOT EXISTS critical_alerts_due
    ON {schema}.critical_alerts (escalate_at) WHERE NOT acknowledged AND NOT escalated AND status = 'open';
CREATE TABLE IF NOT EXISTS {schema}.outbox (
    seq bigserial PRIMARY KEY,
    event_id text NOT NULL,
    topic text NOT NULL,
    key bytea,
    value bytea NOT NULL,
    sent_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON {schema}.outbox (seq) WHERE sent_at IS NULL;
"""


@dataclass
class News2State:
    """The last NEWS2 assessment published for a patient."""

    patient_id: str
    spo2_scale: int = 1
    evaluated_at: dt.datetime | None = None
    state: str | None = None
    total: int | None = None
    clinical_risk: str | None = None
    last_event_id: str | None = None
    version: int = 0
    last_hash: str | None = None


@dataclass
class OpenAlert:
    """A critical-result alert that is not resolved."""

    alert_id: str
    patient_id: str
    result_id: str
    status: str
    raised_at: dt.datetime
    escalate_at: dt.datetime
    acknowledged: bool
    escalated: bool
    version: int
    last_hash: str


@dataclass(frozen=True)
class OutboxRecord:
    """An alert event encoded for Kafka, waiting to be sent."""

    seq: int
    event_id: str
    topic: str
    key: bytes | None
    value: bytes


class Transaction:
    """Reads and writes of detector state inside one PostgreSQL transaction."""

    def __init__(self, connection: psycopg.Connection, schema: str) -> None:
        self.connection = connection
        self.schema = sql.Identifier(schema)

    def _execute(self, query: str, params: tuple = ()) -> psycopg.Cursor:
        return self.connection.execute(sql.SQL(query).format(schema=self.schema), params)

    # -- deduplication ------------------------------------------------------

    def claim(self, event_id: str) -> bool:
        """Record an input event; False when it was already processed (a redelivery)."""
        cursor = self._execute(
            "INSERT INTO {schema}.processed_events (event_id) VALUES (%s) ON CONFLICT DO NOTHING", (event_id,)
        )
        return cursor.rowcount == 1

    def reject(self, event_id: str, detector: str, reason: str) -> None:
        """Record an input a detector could not use, so it is counted rather than lost."""
        self._execute(
            "INSERT INTO {schema}.rejected_inputs (event_id, detector, reason) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (event_id, detector, reason),
        )

    # -- vital-sign readings and NEWS2 --------------------------------------

    def add_reading(self, event_id: str, patient_id: str, parameter: str, occurred_at: dt.datetime,
                    value: float | None, code: str | None) -> None:
        """Store one parameter reading."""
        self._execute(
            "INSERT INTO {schema}.vital_readings (event_id, patient_id, parameter, occurred_at, value, code)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (event_id, patient_id, parameter, occurred_at, value, code),
        )

    def latest_readings(self, patient_id: str, as_of: dt.datetime) -> list[tuple]:
        """Return (parameter, event_id, occurred_at, value, code) of each parameter's newest reading up to as_of."""
        return self._execute(
            "SELECT DISTINCT ON (parameter) parameter, event_id, occurred_at, value, code"
            " FROM {schema}.vital_readings WHERE patient_id = %s AND occurred_at <= %s"
            " ORDER BY parameter, occurred_at DESC, event_id DESC",
            (patient_id, as_of),
        ).fetchall()

    def news2_state(self, patient_id: str) -> News2State:
        """Return the patient's NEWS2 state, locked for this transaction; a blank one if none."""
        row = self._execute(
            "SELECT spo2_scale, evaluated_at, state, total, clinical_risk, last_event_id, version, last_hash"
            " FROM {schema}.news2_state WHERE patient_id = %s FOR UPDATE",
            (patient_id,),
        ).fetchone()
        return News2State(patient_id) if row is None else News2State(patient_id, *row)

    def save_news2_state(self, state: News2State) -> None:
        """Insert or update the patient's NEWS2 state."""
        self._execute(
            "INSERT INTO {schema}.news2_state (patient_id, spo2_scale, evaluated_at, state, total, clinical_risk,"
            " last_event_id, version, last_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (patient_id) DO UPDATE SET spo2_scale = EXCLUDED.spo2_scale,"
            " evaluated_at = EXCLUDED.evaluated_at, state = EXCLUDED.state, total = EXCLUDED.total,"
            " clinical_risk = EXCLUDED.clinical_risk, last_event_id = EXCLUDED.last_event_id,"
            " version = EXCLUDED.version, last_hash = EXCLUDED.last_hash",
            (state.patient_id, state.spo2_scale, state.evaluated_at, state.state, state.total, state.clinical_risk,
             state.last_event_id, state.version, state.last_hash),
        )

    # -- river models -------------------------------------------------------

    def load_model(self, patient_id: str, parameter: str) -> bytes | None:
        """Return the pickled model of one patient's parameter stream, if any."""
        row = self._execute(
            "SELECT model FROM {schema}.stream_models WHERE patient_id = %s AND parameter = %s FOR UPDATE",
            (patient_id, parameter),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def save_model(self, patient_id: str, parameter: str, model: bytes) -> None:
        """Store the pickled model of one patient's parameter stream."""
        self._execute(
            "INSERT INTO {schema}.stream_models (patient_id, parameter, model) VALUES (%s, %s, %s)"
            " ON CONFLICT (patient_id, parameter) DO UPDATE SET model = EXCLUDED.model",
            (patient_id, parameter, model),
        )

    # -- critical-result alerts ----------------------------------------------

    def open_alert_for_result(self, patient_id: str, result_id: str) -> OpenAlert | None:
        """Return the unresolved alert of one result, locked, if any."""
        row = self._execute(
            "SELECT alert_id, patient_id, result_id, status, raised_at, escalate_at, acknowledged, escalated,"
            " version, last_hash FROM {schema}.critical_alerts"
            " WHERE patient_id = %s AND result_id = %s AND status <> 'resolved' FOR UPDATE",
            (patient_id, result_id),
        ).fetchone()
        return None if row is None else OpenAlert(*row)

    def alert(self, alert_id: str) -> OpenAlert | None:
        """Return one critical-result alert, locked, if this detector raised it."""
        row = self._execute(
            "SELECT alert_id, patient_id, result_id, status, raised_at, escalate_at, acknowledged, escalated,"
            " version, last_hash FROM {schema}.critical_alerts WHERE alert_id = %s FOR UPDATE",
            (alert_id,),
        ).fetchone()
        return None if row is None else OpenAlert(*row)

    def alerts_due(self, now: dt.datetime, limit: int = 100) -> list[OpenAlert]:
        """Return open, unacknowledged, unescalated alerts whose escalation time has passed, locked."""
        rows = self._execute(
            "SELECT alert_id, patient_id, result_id, status, raised_at, escalate_at, acknowledged, escalated,"
            " version, last_hash FROM {schema}.critical_alerts"
            " WHERE status = 'open' AND NOT acknowledged AND NOT escalated AND escalate_at <= %s"
            " ORDER BY escalate_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (now, limit),
        ).fetchall()
        return [OpenAlert(*row) for row in rows]

    def save_alert(self, alert: OpenAlert) -> None:
        """Insert or update a critical-result alert."""
        self._execute(
            "INSERT INTO {schema}.critical_alerts (alert_id, patient_id, result_id, status, raised_at, escalate_at,"
            " acknowledged, escalated, version, last_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (alert_id) DO UPDATE SET status = EXCLUDED.status, acknowledged = EXCLUDED.acknowledged,"
            " escalated = EXCLUDED.escalated, version = EXCLUDED.version, last_hash = EXCLUDED.last_hash",
            (alert.alert_id, alert.patient_id, alert.result_id, alert.status, alert.raised_at, alert.escalate_at,
             alert.acknowledged, alert.escalated, alert.version, alert.last_hash),
        )

    # -- outbox ---------------------------------------------------------------

    def add_to_outbox(self, event_id: str, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue an encoded alert event to be sent after the commit."""
        self._execute(
            "INSERT INTO {schema}.outbox (event_id, topic, key, value) VALUES (%s, %s, %s, %s)",
            (event_id, topic, key, value),
        )

    def unsent(self, limit: int = 500) -> list[OutboxRecord]:
        """Return unsent outbox records in order, locked so that two workers do not send them at once."""
        rows = self._execute(
            "SELECT seq, event_id, topic, key, value FROM {schema}.outbox WHERE sent_at IS NULL"
            " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),
        ).fetchall()
        return [OutboxRecord(seq, event_id, topic, None if key is None else bytes(key), bytes(value))
                for seq, event_id, topic, key, value in rows]

    def mark_sent(self, seqs: list[int]) -> None:
        """Mark outbox records as acknowledged by Kafka."""
        self._execute("UPDATE {schema}.outbox SET sent_at = now() WHERE seq = ANY(%s)", (seqs,))


class DetectorStore:
    """A PostgreSQL connection to the detectors' schema."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self.connection = psycopg.connect(url, autocommit=True)

    def create(self) -> None:
        """Create the schema and tables if they do not exist."""
        with self.connection.transaction():
            self.connection.execute(sql.SQL(DDL).format(schema=sql.Identifier(self.schema)))
        logger.info("detector state ready in schema %s", self.schema)

    def drop(self) -> None:
        """Drop the schema and everything in it; for tests."""
        with self.connection.transaction():
            self.connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run a block in one transaction; it commits on success and rolls back on error."""
        with self.connection.transaction():
            yield Transaction(self.connection, self.schema)

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
