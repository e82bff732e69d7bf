"""The tables every projection shares in layout: its journal of events, its merges, and the positions table.

The journal contains one row per accepted event id with the event as JSON, the
patient id it now belongs to (after merges) and the one it arrived with. The
merges table maps every merged patient id straight to its final survivor,
so resolving an id takes one look-up however long the chain of merges was.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

import orjson
from psycopg import Cursor, sql

from heals.projections.model import POSITION_COLUMNS, Projection, SourceEvent, Table

__all__ = [
    "JOURNAL_COLUMNS",
    "create_projection_tables",
    "create_journal_indexes",
    "create_positions_table",
    "drop_projection_tables",
    "journal_row",
    "json_dumps",
    "peek_event_type",
    "table_names",
    "POSITIONS_TABLE",
]

POSITIONS_TABLE = "projection_positions"

JOURNAL_COLUMNS = (
    ("event_id", "uuid NOT NULL"),
    ("patient_id", "text NOT NULL"),
    ("original_patient_id", "text NOT NULL"),
    ("key_part", "text"),
    ("event_type", "text NOT NULL"),
    ("aggregate_id", "text NOT NULL"),
    ("aggregate_version", "bigint NOT NULL"),
    ("occurred_at", "timestamptz NOT NULL"),
    ("recorded_at", "timestamptz NOT NULL"),
    ("merged_at", "timestamptz"),
    ("topic", "text NOT NULL"),
    ("partition", "integer NOT NULL"),
    ('"offset"', "bigint NOT NULL"),
    # json, not jsonb: bodies are stored and returned whole, never queried, and json input is cheaper.
    ("body", "json NOT NULL"),
)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    raise TypeError(f"cannot store a value of type {type(value).__name__} in the journal")


def json_dumps(value: Any) -> str:
    """Return JSON text of an event or read-model value; datetimes as ISO 8601, decimals as text."""
    return orjson.dumps(value, default=_json_default).decode()


def journal_row(event: SourceEvent, patient_id: str, merged_at: dt.datetime | None, key_part: str | None) -> tuple:
    """Return the journal row of an event, in JOURNAL_COLUMNS order, without changing the event."""
    envelope = event.value["envelope"]
    return (
        envelope["event_id"],
        patient_id,
        envelope["patient_id"],
        key_part,
        event.event_type,
        envelope["aggregate_id"],
        envelope["aggregate_version"],
        envelope["occurred_at"],
        envelope["recorded_at"],
        merged_at,
        event.topic,
        event.partition,
        event.offset,
        json_dumps(event.value),
    )


def peek_event_type(catalogue_fingerprints: dict[bytes, Any], data: bytes | None) -> str | None:
    """Return the event type of a single-object encoded record from its fingerprint, None when unknown.

    Reading the 8-byte schema fingerprint costs nothing next to decoding the body, so a
    projection can pass over event types it does not read. Confluent-framed records return None.
    """
    if data is None or data[:2] != b"\xc3\x01":
        return None
    schema = catalogue_fingerprints.get(bytes(data[2:10]))
    return schema.event_type if schema is not None else None


def table_names(projection: Projection) -> list[str]:
    """Return every table a projection owns: journal, merges, then its read-model tables."""
    return [f"{projection.name}_journal", f"{projection.name}_merges", *(t.name for t in projection.tables)]


def _create_table(cur: Cursor, schema: str, name: str, columns: Iterable[tuple[str, str]], primary_key: tuple[str, ...] = ()) -> None:
    column_sql = [sql.SQL("{} {}").format(sql.SQL(col) if col.startswith('"') else sql.Identifier(col), sql.SQL(kind))
                  for col, kind in columns]
    if primary_key:
        column_sql.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, primary_key))))
    cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} ({})").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(column_sql)))


def _create_index(cur: Cursor, schema: str, table: str, columns: tuple[str, ...]) -> None:
    index = f"{table}_{'_'.join(columns)}_idx"
    cur.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} ({})").format(
        sql.Identifier(index), sql.Identifier(schema), sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns))))


def create_projection_tables(cur: Cursor, schema: str, projection: Projection, journal_indexes: bool = True) -> None:
    """Create the schema and every table of a projection unless they exist.

    A rebuild passes journal_indexes=False and calls create_journal_indexes() after its bulk load,
    because building an index once is faster than maintaining it row by row.
    """
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    _create_table(cur, schema, f"{projection.name}_journal", JOURNAL_COLUMNS)
    if journal_indexes:
        create_journal_indexes(cur, schema, projection)

    _create_table(cur, schema, f"{projection.name}_merges", (
        ("merged_id", "text PRIMARY KEY"),
        ("survivor_id", "text NOT NULL"),
        ("merged_at", "timestamptz NOT NULL"),
        ("event_id", "uuid NOT NULL"),
    ))

    for table in projection.tables:
        _create_read_model_table(cur, schema, table)


def create_journal_indexes(cur: Cursor, schema: str, projection: Projection) -> None:
    """Create the journal's unique event id index and its look-up indexes unless they exist."""
    journal = f"{projection.name}_journal"
    cur.execute(sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {}.{} (event_id)").format(
        sql.Identifier(f"{journal}_event_id_key"), sql.Identifier(schema), sql.Identifier(journal)))
    for columns in (("patient_id", "occurred_at"), ("key_part", "occurred_at"), ("aggregate_id", "aggregate_version")):
        _create_index(cur, schema, journal, columns)


def _create_read_model_table(cur: Cursor, schema: str, table: Table) -> None:
    _create_table(cur, schema, table.name, (*table.columns, *POSITION_COLUMNS), table.primary_key)
    if table.primary_key[:1] != (table.key_column,):
        _create_index(cur, schema, table.name, (table.key_column,))
    for columns in table.indexes:
        _create_index(cur, schema, table.name, columns)


def drop_projection_tables(cur: Cursor, schema: str, projection: Projection) -> None:
    """Drop every table of a projection in a schema."""
    for name in table_names(projection):
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))


def create_positions_table(cur: Cursor, schema: str) -> None:
    """Create the table of the last offset each projection applied per topic partition."""
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    _create_table(cur, schema, POSITIONS_TABLE, (
        ("projection", "text NOT NULL"),
        ("topic", "text NOT NULL"),
        ("partition", "integer NOT NULL"),
        ('"offset"', "bigint NOT NULL"),
        ("event_id", "uuid"),
        ("event_type", "text"),
        ("occurred_at", "timestamptz"),
        ("applied_at", "timestamptz NOT NULL DEFAULT now()"),
    ), ("projection", "topic", "partition"))
