"""Rebuild a projection from offset 0 into a staging schema, then switch it in with one transaction.

The rebuild reads every partition of the projection's topics from the
beginning up to the end offsets seen when it started, writing journal rows
only, then folds every key once. The switch locks the live tables in the
order the live agent takes them, applies whatever the live agent wrote past
the rebuild's end offsets, drops the live tables and moves the staging
tables into the live schema. Readers see the old model until the commit and
the new one after it, never a half-built one.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from psycopg import sql

from heals.codec import Codec
from heals.errors import DecodeError
from heals.kafka import make_consumer
from heals.projections.journal import POSITIONS_TABLE, peek_event_type, create_positions_table, drop_projection_tables, table_names
from heals.projections.model import Projection, SourceEvent
from heals.projections.projector import Projector
from heals.projections.settings import ProjectionSettings
from heals.settings import Settings

__all__ = ["RebuildReport", "rebuild_projection", "staging_schema"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RebuildReport:
    """Counts and duration of one rebuild."""

    projection: str
    records: int
    undecodable: int
    keys: int
    seconds: float

    @property
    def records_per_second(self) -> float:
        """Records read per second over the whole rebuild, switch included."""
        return self.records / self.seconds if self.seconds else 0.0


def staging_schema(schema: str, projection: str) -> str:
    """Return the schema a rebuild of one projection writes into."""
    return f"{schema}__rebuild_{projection}"[:63]


def _read_range(consumer, codec: Codec, projector: Projector, start: dict[tuple[str, int], int],
                end: dict[tuple[str, int], int], batch_size: int, bulk: bool = False) -> tuple[int, int, set[str]]:
    """Apply records from start (inclusive) to end (exclusive) per partition; return (records, undecodable, keys).

    With bulk, records go straight into the (empty) journal and no keys are returned: the caller folds every key.
    """
    pending = {tp: (start.get(tp, 0), stop) for tp, stop in end.items() if stop > start.get(tp, 0)}
    if not pending:
        return 0, 0, set()
    consumer.assign([TopicPartition(t, p, first if first > 0 else OFFSET_BEGINNING) for (t, p), (first, _) in pending.items()])
    records = undecodable = 0
    touched: set[str] = set()
    seen: set[str] = set()
    # In bulk mode one batch is written while the next is decoded: PostgreSQL and Python overlap.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rebuild-{projector.projection.name}")
    writing: Future | None = None
    while pending:
        # A short timeout: consume() waits for a full batch until then, even past the last record.
        messages = consumer.consume(num_messages=batch_size, timeout=0.1)
        events = []
        for message in messages:
            if message.error():
                continue
            tp = (message.topic(), message.partition())
            if tp not in pending or message.offset() >= pending[tp][1]:
                continue
            records += 1
            peeked = peek_event_type(codec.catalogue.by_fingerprint, message.value())
            if peeked is not None and not projector.projection.reads(peeked):
                # Not decoded, but passed on so the positions still record the offset.
                events.append(SourceEvent(tp[0], tp[1], message.offset(), peeked, {}))
                continue
            try:
                decoded = codec.decode(message.value(), topic=tp[0], partition=tp[1], offset=message.offset())
            except DecodeError:
                # The live agent parked this record already; a rebuild only counts it.
                undecodable += 1
                continue
            if "envelope" in decoded.value:
                events.append(SourceEvent(tp[0], tp[1], message.offset(), decoded.event_type, decoded.value))
        if bulk:
            if writing is not None:
                writing.result()
            writing = writer.submit(projector.load, events, seen)
        else:
            touched |= projector.apply(events, refresh=False)

        # Compare positions, not record offsets: a transaction marker can hold the last offset before the end.
        positions = consumer.position([TopicPartition(t, p) for t, p in pending])
        for position in positions:
            if position.offset >= pending[(position.topic, position.partition)][1]:
                del pending[(position.topic, position.partition)]
    if writing is not None:
        writing.result()
    writer.shutdown()
    consumer.unassign()
    return records, undecodable, touched


def _watermarks(consumer, topics: list[str]) -> dict[tuple[str, int], int]:
    ends = {}
    metadata = consumer.list_topics(timeout=15)
    for topic in topics:
        for partition in metadata.topics[topic].partitions:
            ends[(topic, partition)] = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    return ends


def rebuild_projection(settings: Settings, projection_settings: ProjectionSettings, projection: Projection,
                       codec: Codec, batch_size: int = 5000) -> RebuildReport:
    """Rebuild one projection from offset 0 and switch it in; return what it did."""
    started = time.perf_counter()
    live = projection_settings.db_schema
    staging = staging_schema(live, projection.name)
    topics = [projection_settings.topic(role) for role in projection.topic_roles]
    consumer = make_consumer(settings, f"heals-rebuild-{projection.name}-{uuid.uuid4().hex[:8]}",
                             **{"enable.partition.eof": False, "fetch.max.bytes": 52428800})
    conn = psycopg.connect(settings.postgres_url, autocommit=True, application_name=f"heals-rebuild-{projection.name}")
    try:
        # A fresh staging schema; an earlier rebuild that died leaves one behind.
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staging)))
        projector = Projector(projection, conn, staging)
        projector.ensure_tables(journal_indexes=False)

        ends = _watermarks(consumer, topics)
        logger.info("rebuild %s: reading %d partitions from offset 0 into schema %s", projection.name, len(ends), staging)
        records, undecodable, _ = _read_range(consumer, codec, projector, {}, ends, batch_size, bulk=True)
        projector.ensure_journal_indexes()
        keys = projector.all_keys()
        projector.refresh_keys(keys)
        logger.info("rebuild %s: %d records read, %d keys folded; switching", projection.name, records, len(keys))

        extra, extra_bad = _switch(conn, consumer, codec, projector, live, ends, batch_size)
    finally:
        consumer.close()
        conn.close()
    seconds = time.perf_counter() - started
    report = RebuildReport(projection.name, records + extra, undecodable + extra_bad, len(keys), seconds)
    logger.info("rebuild %s finished: %d records in %.1f s (%.0f records/s)", projection.name, report.records,
                seconds, report.records_per_second)
    return report


def _switch(conn: psycopg.Connection, consumer, codec: Codec, projector: Projector, live: str,
            ends: dict[tuple[str, int], int], batch_size: int) -> tuple[int, int]:
    projection = projector.projection
    staging = projector.schema
    with conn.transaction(), conn.cursor() as cur:
        with conn.transaction():
            create_positions_table(cur, live)
        # Lock in the order Projector.apply() touches the tables (merges, journal, read models), so the
        # switch and a live batch wait for each other instead of deadlocking.
        for name in table_names(projection):
            cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (LIKE {})").format(
                sql.Identifier(live, name), sql.Identifier(staging, name)))
            cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(live, name)))

        # Whatever the live agent applied past the rebuild's end offsets is in Kafka: apply it too.
        cur.execute(sql.SQL('SELECT topic, partition, "offset" FROM {} WHERE projection = %s').format(
            sql.Identifier(live, POSITIONS_TABLE)), (projection.name,))
        live_next = {(t, p): offset + 1 for t, p, offset in cur.fetchall()}
        behind = {tp: nxt for tp, nxt in live_next.items() if nxt > ends.get(tp, 0)}
        records, undecodable, touched = _read_range(consumer, codec, projector, ends, behind, batch_size)
        projector.refresh_keys(touched, cur)

        drop_projection_tables(cur, live, projection)
        for name in table_names(projection):
            cur.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(sql.Identifier(staging, name), sql.Identifier(live)))
        cur.execute(sql.SQL("DELETE FROM {} WHERE projection = %s").format(sql.Identifier(live, POSITIONS_TABLE)),
                    (projection.name,))
        cur.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE projection = %s").format(
            sql.Identifier(live, POSITIONS_TABLE), sql.Identifier(staging, POSITIONS_TABLE)), (projection.name,))
        cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(staging)))
    return records, undecodable
