"""Read queries of the projection API, one function per response, each on one PostgreSQL connection."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from heals.projections.orders import ACTIVE_STATUSES

__all__ = [
    "account", "applied_version", "census", "chart", "find_patients", "orders", "resolve_patient", "results",
    "timeline", "vitals",
]

logger = logging.getLogger(__name__)

POSITION_FIELDS = ("last_event_id", "last_aggregate_id", "last_aggregate_version", "last_topic", "last_partition",
                   "last_offset", "last_occurred_at")


def _rows(conn: psycopg.Connection, query: sql.Composable, params: tuple | dict = ()) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _table(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def resolve_patient(conn: psycopg.Connection, schema: str, patient_id: str) -> str:
    """Return the surviving patient id of a possibly merged one."""
    rows = _rows(conn, sql.SQL("SELECT survivor_id FROM {} WHERE merged_id = %s").format(_table(schema, "chart_merges")),
                 (patient_id,))
    return rows[0]["survivor_id"] if rows else patient_id


def census(conn: psycopg.Connection, schema: str, day: dt.date, ward: str | None, limit: int, offset: int) -> dict[str, Any]:
    """Return admitted encounters with their beds, and the day's admission and discharge counts."""
    encounters = _table(schema, "census_encounters")
    ward_filter = sql.SQL("AND ward = %(ward)s") if ward else sql.SQL("")
    params = {"ward": ward, "limit": limit, "offset": offset, "start": day, "end": day + dt.timedelta(days=1)}
    items = _rows(conn, sql.SQL(
        "SELECT encounter_id, patient_id, patient_class, ward, room, bed, facility, admitted_at, attending_doctor, "
        "last_occurred_at AS updated_at FROM {} WHERE status = 'admitted' {} "
        "ORDER BY ward NULLS LAST, room NULLS LAST, bed NULLS LAST, encounter_id LIMIT %(limit)s OFFSET %(offset)s"
    ).format(encounters, ward_filter), params)
    counts = _rows(conn, sql.SQL(
        "SELECT count(*) FILTER (WHERE status = 'admitted') AS occupied, "
        "count(*) FILTER (WHERE admitted_at >= %(start)s AND admitted_at < %(end)s AND status <> 'cancelled') AS admissions, "
        "count(*) FILTER (WHERE discharged_at >= %(start)s AND discharged_at < %(end)s AND status = 'discharged') AS discharges "
        "FROM {} WHERE TRUE {}").format(encounters, ward_filter), params)[0]
    return {"day": day.isoformat(), "ward": ward, "occupied": counts["occupied"],
            "admissions_today": counts["admissions"], "discharges_today": counts["discharges"], "items": items}


def find_patients(conn: psycopg.Connection, schema: str, system: str, value: str) -> list[dict[str, Any]]:
    """Return the patients that carry an identifier, merged ids resolved to their survivor."""
    return _rows(conn, sql.SQL(
        "SELECT DISTINCT p.patient_id, p.family_name, p.given_names, p.birth_date, p.administrative_sex "
        "FROM {ids} i JOIN {patients} p ON p.patient_id = i.patient_id WHERE i.system = %s AND i.value = %s "
        "ORDER BY p.patient_id").format(ids=_table(schema, "chart_identifiers"), patients=_table(schema, "chart_patients")),
        (system, value))


def chart(conn: psycopg.Connection, schema: str, patient_id: str, alerts_table: str | None) -> dict[str, Any] | None:
    """Return the chart summary of a patient: header, active orders, latest results and vitals, open alerts."""
    header = _rows(conn, sql.SQL("SELECT * FROM {} WHERE patient_id = %s").format(_table(schema, "chart_patients")),
                   (patient_id,))
    if not header:
        return None
    summary = {k: v for k, v in header[0].items() if k not in POSITION_FIELDS}
    summary["last_event"] = {"event_id": header[0]["last_event_id"], "occurred_at": header[0]["last_occurred_at"]}
    summary["active_orders"] = _rows(conn, sql.SQL(
        "SELECT order_id, department, service_code, service_display, priority, status, placed_at FROM {} "
        "WHERE patient_id = %s AND status = ANY(%s) ORDER BY placed_at NULLS LAST, order_id").format(
            _table(schema, "orders")), (patient_id, list(ACTIVE_STATUSES)))
    summary["latest_results"] = _rows(conn, sql.SQL(
        "SELECT order_id, result_id, code, code_display, status, value_quantity, value_unit, value_code, value_text, "
        "abnormal, critical, observed_at FROM {} WHERE patient_id = %s ORDER BY observed_at DESC, result_key LIMIT 20"
    ).format(_table(schema, "results")), (patient_id,))
    summary["latest_vitals"] = _rows(conn, sql.SQL(
        "SELECT code, code_display, value_quantity, value_unit, value_code, value_text, device_id, observed_at "
        "FROM {} WHERE patient_id = %s ORDER BY code").format(_table(schema, "vitals")), (patient_id,))
    summary["open_alerts"] = _open_alerts(conn, alerts_table, patient_id)
    return summary


def _open_alerts(conn: psycopg.Connection, alerts_table: str | None, patient_id: str) -> list[dict[str, Any]]:
    if not alerts_table:
        return []
    table = sql.Identifier(*alerts_table.split(".", 1))
    try:
        with conn.transaction():
            return _rows(conn, sql.SQL(
                "SELECT alert_id, kind, status, detector, detector_version, summary, raised_at, acknowledged_at, "
                "escalated_at FROM {} WHERE patient_id = %s AND status NOT IN ('resolved', 'superseded') "
                "ORDER BY raised_at DESC").format(table), (patient_id,))
    except psycopg.errors.UndefinedTable:
        # The alerts projection creates its table when its agent first starts.
        return []


def timeline(conn: psycopg.Connection, schema: str, patient_id: str, as_of: dt.datetime | None, limit: int,
             offset: int) -> list[dict[str, Any]]:
    """Return a patient's events by occurred_at; with as_of, only what was recorded (and merged) by then."""
    known = sql.SQL("AND recorded_at <= %(as_of)s AND (merged_at IS NULL OR merged_at <= %(as_of)s)") if as_of else sql.SQL("")
    rows = _rows(conn, sql.SQL(
        "SELECT event_id, event_type, occurred_at, recorded_at, original_patient_id, aggregate_id, aggregate_version, "
        "body FROM {} WHERE patient_id = %(patient)s {} ORDER BY occurred_at, recorded_at, aggregate_id, "
        "aggregate_version, event_id LIMIT %(limit)s OFFSET %(offset)s").format(_table(schema, "timeline_journal"), known),
        {"patient": patient_id, "as_of": as_of, "limit": limit, "offset": offset})
    for row in rows:
        body = row.pop("body")
        row["data"] = {k: v for k, v in body.items() if k != "envelope"}
        row["hash"] = body["envelope"].get("hash")
        row["prev_hash"] = body["envelope"].get("prev_hash")
    return rows


def orders(conn: psycopg.Connection, schema: str, department: str | None, status: str | None, limit: int,
           offset: int) -> list[dict[str, Any]]:
    """Return a worklist: orders of a department and status, oldest placed first."""
    filters = [sql.SQL("TRUE")]
    if department:
        filters.append(sql.SQL("department = %(department)s"))
    if status:
        filters.append(sql.SQL("status = %(status)s"))
    return _rows(conn, sql.SQL(
        "SELECT order_id, patient_id, encounter_id, placer_order_number, filler_order_number, service_code, "
        "service_system, service_display, department, priority, ordering_provider, status, placed_at, "
        "status_changed_at FROM {} WHERE {} ORDER BY placed_at NULLS LAST, order_id LIMIT %(limit)s OFFSET %(offset)s"
    ).format(_table(schema, "orders"), sql.SQL(" AND ").join(filters)),
        {"department": department, "status": status, "limit": limit, "offset": offset})


def results(conn: psycopg.Connection, schema: str, patient_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """Return a patient's results, newest first, with flags and correction history."""
    rows = _rows(conn, sql.SQL(
        "SELECT * FROM {} WHERE patient_id = %s ORDER BY observed_at DESC, result_key LIMIT %s OFFSET %s").format(
            _table(schema, "results")), (patient_id, limit, offset))
    return [{k: v for k, v in row.items() if k not in POSITION_FIELDS and k != "result_key"} for row in rows]


def vitals(conn: psycopg.Connection, schema: str, patient_id: str) -> list[dict[str, Any]]:
    """Return a patient's latest reading per code, each with its short history."""
    rows = _rows(conn, sql.SQL("SELECT * FROM {} WHERE patient_id = %s ORDER BY code").format(_table(schema, "vitals")),
                 (patient_id,))
    return [{k: v for k, v in row.items() if k not in POSITION_FIELDS} for row in rows]


def account(conn: psycopg.Connection, schema: str, account_id: str) -> dict[str, Any] | None:
    """Return a billing account with its balance and every charge and reversal."""
    header = _rows(conn, sql.SQL("SELECT * FROM {} WHERE account_id = %s").format(_table(schema, "billing_accounts")),
                   (account_id,))
    if not header:
        return None
    summary = {k: v for k, v in header[0].items() if k not in POSITION_FIELDS}
    entries = _rows(conn, sql.SQL("SELECT * FROM {} WHERE account_id = %s ORDER BY occurred_at, entry_id").format(
        _table(schema, "billing_entries")), (account_id,))
    summary["entries"] = [{k: v for k, v in row.items() if k not in POSITION_FIELDS} for row in entries]
    return summary


def applied_version(conn: psycopg.Connection, schema: str, projections: tuple[str, ...], aggregate_id: str) -> int:
    """Return the highest version of an aggregate that any of the projections has journaled, 0 for none."""
    best = 0
    for name in projections:
        try:
            with conn.transaction():
                rows = _rows(conn, sql.SQL("SELECT max(aggregate_version) AS v FROM {} WHERE aggregate_id = %s").format(
                    _table(schema, f"{name}_journal")), (aggregate_id,))
        except psycopg.errors.UndefinedTable:
            continue
        best = max(best, rows[0]["v"] or 0)
    return best
