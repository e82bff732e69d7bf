"""The event store: aggregates in PostgreSQL through eventsourcing, plus the event log and command log.

Four tables live in one PostgreSQL schema (both names are parameters):

| table | contents |
| --- | --- |
| ``<name>_events`` | the eventsourcing library's stored events, one row per (aggregate UUID, version); its primary key is the optimistic concurrency check |
| ``<name>_event_log`` | every event as sealed Avro bytes, with its topic, key and the command's W3C traceparent, numbered by ``position`` in commit order; the relay publishes it |
| ``<name>_command_log`` | one row per command id with the event ids and position token it produced; a command seen before returns this outcome |
| ``<name>_snapshots`` | the library's snapshots of aggregates, one every SNAPSHOT_INTERVAL events |

One command batch writes the first three in one transaction. The transaction
takes the library's EXCLUSIVE lock on ``<name>_events`` before drawing
event log positions, so positions are handed out in commit order and a
reader that follows ``position`` never passes a gap that a slower
transaction fills later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence, TypeVar

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from heals.commands.aggregate import HealsAggregate
from heals.commands.group_commit import GroupCommitter
from heals.commands.settings import WriteSettings
from heals.settings import Settings

__all__ = ["CommandRecord", "EventStore", "LoggedEvent", "SealedEvent", "StaleRead", "StoreConflict", "WriteBatch"]

logger = logging.getLogger(__name__)

AggregateT = TypeVar("AggregateT", bound=HealsAggregate)

# Events between snapshots of one aggregate; loading replays at most this many events after the snapshot.
SNAPSHOT_INTERVAL = 100


@dataclass(frozen=True)
class SealedEvent:
    """One event ready for the event log: sealed Avro bytes and where the relay sends them."""

    event_id: str
    event_type: str
    aggregate_id: str
    aggregate_version: int
    topic: str
    key: str
    value: bytes
    hash: str
    traceparent: str | None = None


@dataclass(frozen=True)
class LoggedEvent:
    """A row of the event log as the relay reads it."""

    position: int
    event_id: str
    event_type: str
    aggregate_id: str
    aggregate_version: int
    topic: str
    key: str
    value: bytes
    traceparent: str | None


@dataclass(frozen=True)
class CommandRecord:
    """The outcome of an executed command, kept so that a repeated command returns it again."""

    command_id: str
    kind: str
    event_ids: tuple[str, ...]
    position: str


@dataclass
class WriteBatch:
    """Rows the recorder writes beside the library's stored events, in the same transaction."""

    events: list[SealedEvent] = field(default_factory=list)
    commands: list[CommandRecord] = field(default_factory=list)
    # Aggregate key -> version a rule read without writing the aggregate; a newer version fails the save.
    read_versions: dict[str, int] = field(default_factory=dict)


class StaleRead(Exception):
    """An aggregate that a command only read has changed since; the transaction was rolled back."""

    def __init__(self, aggregate_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(f"{aggregate_id} was read at version {expected_version} and is now at {actual_version}")
        self.aggregate_id = aggregate_id


class StoreConflict(Exception):
    """A unique key of the store was taken by a concurrent transaction; the batch was rolled back."""

    def __init__(self, constraint: str | None) -> None:
        super().__init__(f"unique constraint {constraint} was violated")
        self.constraint = constraint


class HealsRecorder(PostgresApplicationRecorder):
    """The library's application recorder, writing the event log and command log in its transaction."""

    def _insert_events(self, curs: Any, stored_events: Any, *, write_batch: WriteBatch | None = None, **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        if write_batch is None:
            return

        # Lock first, so event log positions are drawn in commit order (see the module docstring).
        self._lock_table(curs)
        schema = Identifier(self.datastore.schema)
        prefix = self.events_table_name.removesuffix("_events")

        # Under the lock no other writer can commit, so an unchanged version now stays unchanged.
        if write_batch.read_versions:
            curs.execute(
                SQL("SELECT aggregate_id, max(aggregate_version) FROM {}.{} WHERE aggregate_id = ANY(%s)"
                    " GROUP BY aggregate_id").format(schema, Identifier(f"{prefix}_event_log")),
                (list(write_batch.read_versions),),
            )
            for row in curs.fetchall():
                aggregate_id, actual = row["aggregate_id"], row["max"]
                if actual != write_batch.read_versions[aggregate_id]:
                    raise StaleRead(aggregate_id, write_batch.read_versions[aggregate_id], actual)
        if write_batch.events:
            curs.executemany(
                SQL(
                    "INSERT INTO {}.{} (event_id, event_type, aggregate_id, aggregate_version, topic, record_key, value, hash,"
                    " traceparent) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(schema, Identifier(f"{prefix}_event_log")),
                [
                    (e.event_id, e.event_type, e.aggregate_id, e.aggregate_version, e.topic, e.key, e.value, e.hash,
                     e.traceparent)
                    for e in write_batch.events
                ],
            )
        if write_batch.commands:
            curs.executemany(
                SQL("INSERT INTO {}.{} (command_id, kind, event_ids, position) VALUES (%s, %s, %s, %s)").format(
                    schema, Identifier(f"{prefix}_command_log")
                ),
                [(c.command_id, c.kind, list(c.event_ids), c.position) for c in write_batch.commands],
            )


class _StoreApplication(Application):
    """The eventsourcing application behind the store; the store names its subclasses after the table prefix.

    A patient's history grows for as long as the hospital treats them, so
    aggregates are snapshotted every SNAPSHOT_INTERVAL events (in the
    ``<name>_snapshots`` table) and loaded from the latest snapshot.
    """

    is_snapshotting_enabled = True


def _create_tables_sql(schema: str, name: str) -> list[Any]:
    return [
        SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)),
        SQL(
            "CREATE TABLE IF NOT EXISTS {}.{} ("
            " position bigserial PRIMARY KEY,"
            " event_id uuid NOT NULL UNIQUE,"
            " event_type text NOT NULL,"
            " aggregate_id text NOT NULL,"
            " aggregate_version bigint NOT NULL,"
            " topic text NOT NULL,"
            " record_key text NOT NULL,"
            " value bytea NOT NULL,"
            " hash text NOT NULL,"
            " traceparent text,"
            " recorded_at timestamptz NOT NULL DEFAULT now(),"
            " UNIQUE (aggregate_id, aggregate_version))"
        ).format(Identifier(schema), Identifier(f"{name}_event_log")),
        SQL(
            "CREATE TABLE IF NOT EXISTS {}.{} ("
            " command_id text PRIMARY KEY,"
            " kind text NOT NULL,"
            " event_ids text[] NOT NULL,"
            " position text NOT NULL,"
            " recorded_at timestamptz NOT NULL DEFAULT now())"
        ).format(Identifier(schema), Identifier(f"{name}_command_log")),
    ]


def _merge_batches(batches: list[WriteBatch]) -> WriteBatch:
    return WriteBatch(
        events=[event for batch in batches for event in batch.events],
        commands=[command for batch in batches for command in batch.commands],
        read_versions={key: version for batch in batches for key, version in batch.read_versions.items()},
    )


class EventStore:
    """Load and save aggregates, and read the event log and command log.

    Thread-safe: reads take their own connection from a pool of
    ``pool_size`` connections, and saves queue for one committer thread,
    which writes the saves waiting together in one transaction.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        schema: str | None = None,
        name: str | None = None,
        pool_size: int | None = None,
        write_settings: WriteSettings | None = None,
    ) -> None:
        write_settings = write_settings or WriteSettings()
        self.schema = schema or write_settings.event_store_schema
        self.name = name or write_settings.event_store_name
        self.event_log_table = f"{self.name}_event_log"
        self.command_log_table = f"{self.name}_command_log"
        self._conninfo = settings.postgres_url
        # Processes that start together would race on CREATE ... IF NOT EXISTS, so table creation
        # (ours and the library's) runs under a PostgreSQL advisory lock named after the tables.
        with psycopg.connect(self._conninfo, autocommit=True) as lock_conn:
            lock_conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"{self.schema}.{self.name}",))
            try:
                for statement in _create_tables_sql(self.schema, self.name):
                    lock_conn.execute(statement)
                self.application = self._open_application(settings, pool_size or write_settings.event_store_pool_size)
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"{self.schema}.{self.name}",))
        self.recorder: HealsRecorder = self.application.recorder  # type: ignore[assignment]
        self._committer = GroupCommitter(self._write, _merge_batches)
        logger.info("event store ready in schema %s with tables %s_*", self.schema, self.name)

    def _open_application(self, settings: Settings, pool_size: int) -> Application:
        parts = conninfo_to_dict(settings.postgres_url)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": get_topic(HealsRecorder),
            "POSTGRES_DBNAME": str(parts.get("dbname", "")),
            "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(parts.get("port", "5432")),
            "POSTGRES_USER": str(parts.get("user", "")),
            "POSTGRES_PASSWORD": str(parts.get("password", "")),
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_WAITING": "0",
            "CREATE_TABLE": "yes",
        }
        application_class = type(f"{self.name}_store", (_StoreApplication,), {"name": self.name})
        return application_class(env=env)

    # -- aggregates ---------------------------------------------------------

    def get(self, aggregate_class: type[AggregateT], domain_id: str) -> AggregateT | None:
        """Return the aggregate with a domain id, or None when it has no events."""
        try:
            return self.application.repository.get(aggregate_class.uuid_for(domain_id))  # type: ignore[return-value]
        except AggregateNotFoundError:
            return None

    def save(self, aggregates: Sequence[HealsAggregate], batch: WriteBatch) -> None:
        """Store the aggregates' pending events, the event log rows and the command rows in one transaction.

        Concurrent saves may share that transaction (see heals.commands.group_commit).
        Raises StoreConflict when a concurrent transaction took an aggregate
        version or a command id first; then nothing of this save is stored.
        """
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        self._committer.save(events, batch)

        # Snapshots are written after the commit; a crash before one only means a longer replay.
        for event in events:
            if event.originator_version % SNAPSHOT_INTERVAL == 0:
                self.application.take_snapshot(event.originator_id, version=event.originator_version)

    def _write(self, events: Sequence[Any], batch: WriteBatch) -> None:
        try:
            self.application.save(*events, write_batch=batch)
        except StaleRead as exc:
            raise StoreConflict(None) from exc
        except IntegrityError as exc:
            cause = exc.__cause__
            constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
            raise StoreConflict(constraint) from exc

    def current_version(self, aggregate_id: str) -> int:
        """Return the latest stored version of an aggregate key, 0 when it has none."""
        rows = self._query(
            SQL("SELECT max(aggregate_version) FROM {}.{} WHERE aggregate_id = %s").format(
                Identifier(self.schema), Identifier(self.event_log_table)
            ),
            (aggregate_id,),
        )
        return int(rows[0][0] or 0)

    def chain_hash(self, aggregate_id: str, version: int) -> str | None:
        """Return the hash of an aggregate's event at a version, None for version 0."""
        if version == 0:
            return None
        rows = self._query(
            SQL("SELECT hash FROM {}.{} WHERE aggregate_id = %s AND aggregate_version = %s").format(
                Identifier(self.schema), Identifier(self.event_log_table)
            ),
            (aggregate_id, version),
        )
        if not rows:
            raise LookupError(f"event log has no event {aggregate_id} version {version}")
        return rows[0][0]

    # -- command log --------------------------------------------------------

    def find_commands(self, command_ids: Sequence[str]) -> dict[str, CommandRecord]:
        """Return the recorded outcomes of those command ids that were executed before."""
        if not command_ids:
            return {}
        rows = self._query(
            SQL("SELECT command_id, kind, event_ids, position FROM {}.{} WHERE command_id = ANY(%s)").format(
                Identifier(self.schema), Identifier(self.command_log_table)
            ),
            (list(command_ids),),
        )
        return {row[0]: CommandRecord(row[0], row[1], tuple(row[2]), row[3]) for row in rows}

    # -- event log ----------------------------------------------------------

    def read_log(self, after_position: int, limit: int) -> list[LoggedEvent]:
        """Return up to ``limit`` event log rows after a position, in position order."""
        rows = self._query(
            SQL(
                "SELECT position, event_id, event_type, aggregate_id, aggregate_version, topic, record_key, value,"
                " traceparent FROM {}.{} WHERE position > %s ORDER BY position LIMIT %s"
            ).format(Identifier(self.schema), Identifier(self.event_log_table)),
            (after_position, limit),
        )
        return [LoggedEvent(r[0], str(r[1]), r[2], r[3], r[4], r[5], r[6], bytes(r[7]), r[8]) for r in rows]

    def count_events(self) -> int:
        """Return the number of rows in the event log."""
        rows = self._query(
            SQL("SELECT count(*) FROM {}.{}").format(Identifier(self.schema), Identifier(self.event_log_table))
        )
        return int(rows[0][0])

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Commit queued saves, then close the connection pool."""
        self._committer.close()
        self.recorder.datastore.close()

    def drop(self) -> None:
        """Close the store and drop its whole schema; for tests and benchmarks."""
        self.close()
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(self.schema)))

    def _query(self, statement: Any, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # Reads outside the library share its pool, so they count against pool_size.
        with self.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()
