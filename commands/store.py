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
transaction fills later. All statements of that transaction go to
PostgreSQL in one pipeline, so a save costs one round trip plus the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence, TypeVar

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier, Literal

from heals.commands.aggregate import HealsAggregate
from heals.commands.cache import AggregateCache
from heals.commands.group_commit import GroupCommitter
from heals.commands.settings import WriteSettings
from heals.settings import Settings

__all__ = [
    "CommandRecord", "EventStore", "LoadedAggregate", "LoggedEvent", "SealedEvent", "StoreConflict",
    "WriteBatch",
]

logger = logging.getLogger(__name__)

AggregateT = TypeVar("AggregateT", bound=HealsAggregate)

# Events between snapshots of one aggregate; loading replays at most this many events after the snapshot.
SNAPSHOT_INTERVAL = 100

# SQLSTATE that the version check function raises when an aggregate read by a command has changed.
STALE_READ_SQLSTATE = "HS409"


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


@dataclass(frozen=True)
class LoadedAggregate:
    """An aggregate as a command loaded it; head_hash is set when it came from the cache."""

    aggregate: HealsAggregate
    cached: bool = False
    head_hash: str | None = None


class StoreConflict(Exception):
    """A unique key of the store was taken by a concurrent transaction; the batch was rolled back."""

    def __init__(self, constraint: str | None) -> None:
        super().__init__(f"unique constraint {constraint} was violated")
        self.constraint = constraint


class HealsRecorder(PostgresApplicationRecorder):
    """The library's application recorder, writing the event log and command log in its transaction."""

    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        """Write one save in one pipelined transaction; errors surface at the commit.

        The library's version synchronizes the pipeline before the commit, which
        costs a second round trip, and sends a NOTIFY that no HEALS process listens
        to. It also returns notification ids, which HEALS does not use: the relay
        follows the event log's ``position``.
        """
        with self.datastore.get_connection() as conn, conn.pipeline(), conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if stored_events:
                PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events)
        return None

    def _insert_events(self, curs: Any, stored_events: Any, *, write_batch: WriteBatch | None = None, **kwargs: Any) -> None:
        # Lock first, so event log positions are drawn in commit order (see the module docstring).
        self._lock_table(curs)
        if write_batch is None:
            return
        schema = Identifier(self.datastore.schema)
        prefix = self.events_table_name.removesuffix("_events")

        # Under the lock no other writer can commit, so an unchanged version now stays unchanged.
        # The function raises STALE_READ_SQLSTATE otherwise, which fails the commit.
        if write_batch.read_versions:
            curs.execute(
                SQL("SELECT {}.{}(%s, %s)").format(schema, Identifier(f"{prefix}_require_versions")),
                (list(write_batch.read_versions), list(write_batch.read_versions.values())),
                prepare=True,
            )
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
        # Raise STALE_READ_SQLSTATE when an aggregate's latest version in the event log is not the one given.
        SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(aggregate_ids text[], versions bigint[])"
            " RETURNS void LANGUAGE plpgsql AS $body$"
            " DECLARE stale record;"
            " BEGIN"
            "  SELECT read.aggregate_id, read.version, coalesce(max(log.aggregate_version), 0) AS actual INTO stale"
            "  FROM unnest(aggregate_ids, versions) AS read(aggregate_id, version)"
            "  LEFT JOIN {schema}.{log} AS log ON log.aggregate_id = read.aggregate_id"
            "  GROUP BY read.aggregate_id, read.version"
            "  HAVING coalesce(max(log.aggregate_version), 0) <> read.version LIMIT 1;"
            "  IF FOUND THEN"
            "   RAISE EXCEPTION USING ERRCODE = {sqlstate}, MESSAGE = format("
            "    '%s was read at version %s and is now at %s', stale.aggregate_id, stale.version, stale.actual);"
            "  END IF;"
            " END $body$"
        ).format(
            schema=Identifier(schema), function=Identifier(f"{name}_require_versions"),
            log=Identifier(f"{name}_event_log"), sqlstate=Literal(STALE_READ_SQLSTATE),
        ),
    ]


def _load_statement(application: Application, schema: str) -> Any:
    # The latest snapshot of each aggregate and the events after it, in one statement, so both
    # come from one database snapshot in one round trip.
    events_table = application.recorder.events_table_name  # type: ignore[attr-defined]
    snapshots_table = application.snapshots.recorder.events_table_name  # type: ignore[union-attr]
    return SQL(
        "WITH wanted AS (SELECT DISTINCT unnest(%s::uuid[]) AS originator_id),"
        " snapshot AS (SELECT DISTINCT ON (s.originator_id) s.originator_id, s.originator_version, s.topic, s.state"
        "  FROM {schema}.{snapshots} AS s JOIN wanted USING (originator_id)"
        "  ORDER BY s.originator_id, s.originator_version DESC)"
        " SELECT originator_id, 0 AS part, originator_version, topic, state FROM snapshot"
        " UNION ALL"
        " SELECT e.originator_id, 1, e.originator_version, e.topic, e.state"
        "  FROM {schema}.{events} AS e JOIN wanted USING (originator_id)"
        "  LEFT JOIN snapshot USING (originator_id)"
        "  WHERE e.originator_version > coalesce(snapshot.originator_version, 0)"
        " ORDER BY 1, 2, 3"
    ).format(schema=Identifier(schema), snapshots=Identifier(snapshots_table), events=Identifier(events_table))


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
    which writes the saves waiting together in one transaction. Aggregates
    this process committed are kept in an AggregateCache of
    ``cache_size`` entries (see heals.commands.cache).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        schema: str | None = None,
        name: str | None = None,
        pool_size: int | None = None,
        cache_size: int | None = None,
        write_settings: WriteSettings | None = None,
    ) -> None:
        write_settings = write_settings or WriteSettings()
        self.cache = AggregateCache(write_settings.event_store_cache_size if cache_size is None else cache_size)
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
        self._load_statement = _load_statement(self.application, self.schema)
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
        """Return the aggregate with a domain id from the store, or None when it has no events."""
        loaded = self.load(aggregate_class, domain_id, use_cache=False)
        return loaded.aggregate if loaded is not None else None  # type: ignore[return-value]

    def load(self, aggregate_class: type[HealsAggregate], domain_id: str, *, use_cache: bool = True) -> LoadedAggregate | None:
        """Return the aggregate with a domain id, from the cache if it is there, or None when it has no events.

        A cached aggregate may be older than the store; the caller must have
        the commit check it (see heals.commands.cache).
        """
        return self.load_many([(aggregate_class, domain_id)], use_cache=use_cache)[aggregate_class.key_for(domain_id)]

    def load_many(
        self, wanted: Sequence[tuple[type[HealsAggregate], str]], *, use_cache: bool = True
    ) -> dict[str, LoadedAggregate | None]:
        """Return aggregate key -> aggregate for (class, domain id) pairs; aggregates not cached are read in one query."""
        loaded: dict[str, LoadedAggregate | None] = {}
        missing: dict[Any, str] = {}
        for aggregate_class, domain_id in wanted:
            key = aggregate_class.key_for(domain_id)
            if key in loaded:
                continue
            cached = self.cache.get(key) if use_cache else None
            if cached is not None:
                loaded[key] = LoadedAggregate(cached.aggregate, cached=True, head_hash=cached.head_hash)
            else:
                loaded[key] = None
                missing[aggregate_class.uuid_for(domain_id)] = key
        if not missing:
            return loaded

        with self.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(self._load_statement, (list(missing),), prepare=True)
            rows = cursor.fetchall()
        mapper = self.application.mapper
        aggregates: dict[Any, Any] = {}
        for originator_id, _, version, topic, state in rows:
            event = mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))
            aggregates[originator_id] = event.mutate(aggregates.get(originator_id))
        for originator_id, aggregate in aggregates.items():
            if aggregate is not None:
                loaded[missing[originator_id]] = LoadedAggregate(aggregate)
        return loaded

    def save(self, aggregates: Sequence[HealsAggregate], batch: WriteBatch) -> None:
        """Store the aggregates' pending events, the event log rows and the command rows in one transaction.

        Concurrent saves may share that transaction (see heals.commands.group_commit).
        Raises StoreConflict when a concurrent transaction took an aggregate
        version or a command id first, or changed an aggregate in
        ``batch.read_versions``. Nothing of this save is stored then.
        """
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        try:
            self._committer.save(events, batch)
        except StoreConflict:
            # Another writer got ahead, so any cached aggregate may be stale, not only those this save read.
            # Clearing the whole cache lets the caller's retry read everything it needs from the store.
            self.cache.clear()
            raise
        except BaseException:
            # The aggregates hold events that were never stored.
            self.cache.evict([aggregate.aggregate_key for aggregate in aggregates])
            raise

        # The committed aggregates go into the cache with the hash of their last event.
        head_hashes = {event.aggregate_id: event.hash for event in batch.events}
        for aggregate in aggregates:
            head_hash = head_hashes.get(aggregate.aggregate_key)
            if head_hash is not None:
                self.cache.put(aggregate, head_hash)

        # Snapshots are written after the commit; a crash before one only means a longer replay.
        for event in events:
            if event.originator_version % SNAPSHOT_INTERVAL == 0:
                self.application.take_snapshot(event.originator_id, version=event.originator_version)

    def _write(self, events: Sequence[Any], batch: WriteBatch) -> None:
        try:
            self.application.save(*events, write_batch=batch)
        except IntegrityError as exc:
            cause = exc.__cause__
            constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
            raise StoreConflict(constraint) from exc
        except PersistenceError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == STALE_READ_SQLSTATE:
                raise StoreConflict(None) from exc
            raise

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
