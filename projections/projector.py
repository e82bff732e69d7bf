"""Apply batches of events to one projection in PostgreSQL, one transaction per batch.

A batch is applied in four steps inside one transaction. Merges come first
because they move journal rows to the survivor. Then the accepted events go
into the journal, skipping known event ids. Then every touched key is folded
again, and last the projection's offsets are recorded. The caller commits the
Kafka offsets only after apply() returned, so a crash means redelivery, and
redelivery changes nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Iterable, Sequence

import orjson
import psycopg
from psycopg import Connection, sql
from psycopg.types.json import set_json_loads
from psycopg.rows import dict_row

from heals.projections.journal import (
    JOURNAL_COLUMNS,
    POSITIONS_TABLE,
    create_journal_indexes,
    create_positions_table,
    create_projection_tables,
    journal_row,
)
from heals.projections.model import Projection, SourceEvent

__all__ = ["Projector", "MERGE_EVENT"]

logger = logging.getLogger(__name__)

MERGE_EVENT = "PatientsMerged"
STAGING_TABLE = "heals_journal_staging"
_JOURNAL_NAMES = sql.SQL(", ").join(sql.SQL(c) if c.startswith('"') else sql.Identifier(c) for c, _ in JOURNAL_COLUMNS)


class Projector:
    """Writes one projection's journal and read-model tables in one PostgreSQL schema."""

    def __init__(self, projection: Projection, conn: Connection, schema: str) -> None:
        self.projection = projection
        self.conn = conn
        self.schema = schema
        # Folds read every journal body; orjson parses them several times faster than json.
        set_json_loads(orjson.loads, conn)
        self._journal = sql.Identifier(schema, f"{projection.name}_journal")
        self._merges = sql.Identifier(schema, f"{projection.name}_merges")
        self._staging_ready = False

    def ensure_tables(self, journal_indexes: bool = True) -> None:
        """Create the projection's tables and the positions table unless they exist."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            # Two workers starting together would race on CREATE ... IF NOT EXISTS.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"heals-ddl-{self.schema}",))
            create_projection_tables(cur, self.schema, self.projection, journal_indexes)
            create_positions_table(cur, self.schema)

    def ensure_journal_indexes(self) -> None:
        """Create the journal indexes that ensure_tables(journal_indexes=False) left out."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            create_journal_indexes(cur, self.schema, self.projection)

    # -- applying ------------------------------------------------------------

    def apply(self, events: Sequence[SourceEvent], *, refresh: bool = True) -> set[str]:
        """Apply a batch in one transaction; return the fold keys it touched."""
        if not events:
            return set()
        with self.conn.transaction(), self.conn.cursor() as cur:
            touched = self._apply_merges(cur, [e for e in events if e.event_type == MERGE_EVENT])
            touched |= self._insert_journal(cur, events)
            if refresh:
                self.refresh_keys(touched, cur)
            self._record_positions(cur, events)
        return touched

    def load(self, events: Sequence[SourceEvent], seen: set[str]) -> None:
        """Append a batch to an empty journal for a rebuild, without folding; seen contains the event ids so far.

        Skipping known event ids in memory lets the rows go straight into the journal with COPY,
        which is what makes a rebuild faster than applying the same records live.
        """
        if not events:
            return
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._apply_merges(cur, [e for e in events if e.event_type == MERGE_EVENT])
            rows = []
            for row in self._journal_rows(cur, events):
                if row[0] not in seen:
                    seen.add(row[0])
                    rows.append(row)
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(self._journal, _JOURNAL_NAMES)) as copy:
                for row in rows:
                    copy.write_row(row)
            self._record_positions(cur, events)

    def _apply_merges(self, cur: psycopg.Cursor, merges: list[SourceEvent]) -> set[str]:
        touched: set[str] = set()
        for event in merges:
            merged = event.value["merged_patient_id"]
            survivor = self._resolve(cur, event.value["survivor_patient_id"])
            if merged == survivor:
                continue
            merged_at = event.value["envelope"]["recorded_at"]

            # Keep the map closed: every id that pointed at the merged id now points at the survivor.
            cur.execute(sql.SQL(
                "INSERT INTO {} (merged_id, survivor_id, merged_at, event_id) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (merged_id) DO NOTHING").format(self._merges),
                (merged, survivor, merged_at, event.value["envelope"]["event_id"]))
            cur.execute(sql.SQL("UPDATE {} SET survivor_id = %s WHERE survivor_id = %s").format(self._merges),
                        (survivor, merged))

            # Move the merged patient's journal rows; merged_at keeps the first merge that moved a row.
            cur.execute(sql.SQL(
                "UPDATE {} SET patient_id = %s, merged_at = COALESCE(merged_at, %s) WHERE patient_id = %s "
                "RETURNING key_part").format(self._journal), (survivor, merged_at, merged))
            moved = [row[0] for row in cur.fetchall()]
            if self.projection.keyed_by == "patient_id":
                touched |= {merged, survivor}
            else:
                touched |= {key for key in moved if key is not None}
            logger.debug("%s: merged patient %s into %s, %d journal rows moved",
                         self.projection.name, merged, survivor, len(moved))
        return touched

    def _resolve(self, cur: psycopg.Cursor, patient_id: str) -> str:
        cur.execute(sql.SQL("SELECT survivor_id FROM {} WHERE merged_id = %s").format(self._merges), (patient_id,))
        row = cur.fetchone()
        return row[0] if row else patient_id

    def _journal_rows(self, cur: psycopg.Cursor, events: Sequence[SourceEvent]) -> list[tuple]:
        cur.execute(sql.SQL("SELECT merged_id, survivor_id, merged_at FROM {}").format(self._merges))
        survivors = {merged: (survivor, merged_at) for merged, survivor, merged_at in cur.fetchall()}
        rows = []
        for event in events:
            if not self.projection.accepts(event.event_type, event.value):
                continue
            original = event.value["envelope"]["patient_id"]
            patient_id, merged_at = survivors.get(original, (original, None))
            rows.append(journal_row(event, patient_id, merged_at, self.projection.key_part(event.event_type, event.value)))
        return rows

    def _insert_journal(self, cur: psycopg.Cursor, events: Sequence[SourceEvent]) -> set[str]:
        rows = self._journal_rows(cur, events)
        if not rows:
            return set()

        # COPY into a temporary table, then one INSERT that skips known event ids.
        if not self._staging_ready:
            cur.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {})").format(
                sql.Identifier(STAGING_TABLE), self._journal))
            self._staging_ready = True
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(STAGING_TABLE), _JOURNAL_NAMES)) as copy:
            for row in rows:
                copy.write_row(row)
        key_column = sql.Identifier(self.projection.keyed_by)
        cur.execute(sql.SQL(
            "INSERT INTO {journal} ({names}) SELECT DISTINCT ON (event_id) {names} FROM {staging} "
            "ORDER BY event_id, topic, partition, \"offset\" ON CONFLICT (event_id) DO NOTHING RETURNING {key}").format(
                journal=self._journal, names=_JOURNAL_NAMES, staging=sql.Identifier(STAGING_TABLE), key=key_column))
        touched = {row[0] for row in cur.fetchall() if row[0] is not None}
        # DELETE, not TRUNCATE: a few hundred rows are cheaper to delete than a table file to replace.
        cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(STAGING_TABLE)))
        return touched

    def _record_positions(self, cur: psycopg.Cursor, events: Sequence[SourceEvent]) -> None:
        last: dict[tuple[str, int], SourceEvent] = {}
        for event in events:
            current = last.get((event.topic, event.partition))
            if current is None or event.offset > current.offset:
                last[(event.topic, event.partition)] = event
        cur.executemany(sql.SQL(
            "INSERT INTO {} AS p (projection, topic, partition, \"offset\", event_id, event_type, occurred_at, applied_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, now()) ON CONFLICT (projection, topic, partition) DO UPDATE SET "
            "\"offset\" = EXCLUDED.\"offset\", event_id = EXCLUDED.event_id, event_type = EXCLUDED.event_type, "
            "occurred_at = EXCLUDED.occurred_at, applied_at = now() WHERE EXCLUDED.\"offset\" > p.\"offset\"").format(
                sql.Identifier(self.schema, POSITIONS_TABLE)),
            [(self.projection.name, e.topic, e.partition, e.offset, e.value.get("envelope", {}).get("event_id"),
              e.event_type, e.value.get("envelope", {}).get("occurred_at")) for e in last.values()])

    # -- folding -------------------------------------------------------------

    def refresh_keys(self, keys: Iterable[str], cur: psycopg.Cursor | None = None, chunk: int = 1000) -> int:
        """Fold the given keys again from the journal and rewrite their rows; return the row count."""
        keys = sorted(keys)
        if not keys or not self.projection.tables:
            return 0
        if cur is None:
            with self.conn.transaction(), self.conn.cursor() as own:
                return self.refresh_keys(keys, own, chunk)
        written = 0
        for start in range(0, len(keys), chunk):
            written += self._refresh_chunk(cur, keys[start:start + chunk])
        return written

    def all_keys(self) -> list[str]:
        """Return every fold key in the journal."""
        with self.conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT DISTINCT {} FROM {} WHERE {} IS NOT NULL").format(
                sql.Identifier(self.projection.keyed_by), self._journal, sql.Identifier(self.projection.keyed_by)))
            return [row[0] for row in cur.fetchall()]

    def _refresh_chunk(self, cur: psycopg.Cursor, keys: list[str]) -> int:
        by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self._load(keys):
            by_key[row[self.projection.keyed_by]].append(row)

        rows_by_table: dict[str, list[tuple]] = defaultdict(list)
        for key in keys:
            for derived in self.projection.fold(key, by_key.get(key, [])):
                table = self._table(derived.table)
                last = derived.last
                values = {**derived.values, "last_event_id": last["event_id"], "last_aggregate_id": last["aggregate_id"],
                          "last_aggregate_version": last["aggregate_version"], "last_topic": last["topic"],
                          "last_partition": last["partition"], "last_offset": last["offset"],
                          "last_occurred_at": last["occurred_at"]}
                rows_by_table[table.name].append(tuple(values[name] for name in table.column_names))

        # Replace the keys' rows: delete what the previous fold wrote, copy in the new fold.
        for table in self.projection.tables:
            target = sql.Identifier(self.schema, table.name)
            cur.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(target, sql.Identifier(table.key_column)), (keys,))
            rows = rows_by_table.get(table.name)
            if not rows:
                continue
            names = sql.SQL(", ").join(map(sql.Identifier, table.column_names))
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, names)) as copy:
                for row in rows:
                    copy.write_row(row)
        return sum(len(rows) for rows in rows_by_table.values())

    def _load(self, keys: list[str]) -> list[dict[str, Any]]:
        key_column = sql.Identifier(self.projection.keyed_by)
        order = sql.SQL("occurred_at, recorded_at, aggregate_id, aggregate_version, event_id")
        window = self.projection.journal_window()
        if window is None:
            query = sql.SQL("SELECT * FROM {} WHERE {} = ANY(%s) ORDER BY {}, {}").format(
                self._journal, key_column, key_column, order)
            params: tuple = (keys,)
        else:
            query = sql.SQL(
                "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {key}, key_part ORDER BY occurred_at DESC, "
                "recorded_at DESC, aggregate_id DESC, aggregate_version DESC, event_id DESC) AS newest "
                "FROM {journal} WHERE {key} = ANY(%s)) ranked WHERE newest <= %s ORDER BY {key}, {order}").format(
                    key=key_column, journal=self._journal, order=order)
            params = (keys, window)
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def _table(self, name: str):
        for table in self.projection.tables:
            if table.name == name:
                return table
        raise KeyError(f"projection {self.projection.name} has no table {name!r}")
