"""Each projection's applied offsets against the end of its topics: lag and last event."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

import psycopg
from confluent_kafka import TopicPartition
from psycopg import sql

from heals.projections.journal import POSITIONS_TABLE
from heals.projections.registry import PROJECTIONS
from heals.projections.settings import ProjectionSettings
from heals.settings import Settings
from heals.kafka import make_consumer

__all__ = ["PartitionStatus", "end_offsets", "projection_status", "records_after"]


def end_offsets(settings: Settings, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Return the high watermark (next offset) of each topic partition."""
    consumer = make_consumer(settings, f"heals-watermarks-{uuid.uuid4().hex[:8]}")
    try:
        return {
            (topic, partition): consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
            for topic, partition in partitions
        }
    finally:
        consumer.close()


def records_after(settings: Settings, applied: dict[tuple[str, int], int], ends: dict[tuple[str, int], int],
                  timeout: float = 5.0) -> dict[tuple[str, int], int]:
    """Return how many records follow each applied offset up to the end offset.

    End offsets count transaction markers too, so end minus applied overstates what is left
    on partitions written in transactions. Reading the rest of the partition settles it.
    """
    pending = {tp: end for tp, end in ends.items() if end > applied.get(tp, -1) + 1}
    counts = {tp: 0 for tp in ends}
    if not pending:
        return counts
    consumer = make_consumer(settings, f"heals-lag-{uuid.uuid4().hex[:8]}")
    try:
        consumer.assign([TopicPartition(t, p, applied.get((t, p), -1) + 1) for t, p in pending])
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1000, timeout=0.2):
                tp = (message.topic(), message.partition())
                if not message.error() and tp in pending and message.offset() < pending[tp]:
                    counts[tp] += 1
            for position in consumer.position([TopicPartition(t, p) for t, p in pending]):
                if position.offset >= pending[(position.topic, position.partition)]:
                    del pending[(position.topic, position.partition)]
        # Partitions not read to the end within the timeout keep the estimate from the offsets.
        for tp, end in pending.items():
            counts[tp] = end - applied.get(tp, -1) - 1
    finally:
        consumer.close()
    return counts


@dataclass(frozen=True)
class PartitionStatus:
    """Progress of one projection on one topic partition."""

    projection: str
    topic: str
    partition: int
    applied_offset: int | None
    end_offset: int
    lag: int
    last_event_id: str | None
    last_event_type: str | None
    last_occurred_at: dt.datetime | None
    applied_at: dt.datetime | None


def projection_status(settings: Settings, projection_settings: ProjectionSettings) -> list[PartitionStatus]:
    """Return the status of every projection on every partition of its topics; lag counts records, not offsets."""
    topics = sorted({projection_settings.topic(role) for p in PROJECTIONS.values() for role in p.topic_roles})
    consumer = make_consumer(settings, "heals-projection-status")
    try:
        metadata = consumer.list_topics(timeout=15)
        partitions = [(t, p) for t in topics if t in metadata.topics for p in sorted(metadata.topics[t].partitions)]
    finally:
        consumer.close()
    ends = end_offsets(settings, partitions)

    with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
        try:
            rows = conn.execute(sql.SQL(
                'SELECT projection, topic, partition, "offset", event_id, event_type, occurred_at, applied_at FROM {}'
            ).format(sql.Identifier(projection_settings.db_schema, POSITIONS_TABLE))).fetchall()
        except psycopg.errors.UndefinedTable:
            rows = []
    applied = {(r[0], r[1], r[2]): r for r in rows}

    statuses = []
    for name, projection in PROJECTIONS.items():
        topics_read = {projection_settings.topic(role) for role in projection.topic_roles}
        applied_offsets = {(t, p): row[3] for (n, t, p), row in applied.items() if n == name}
        lags = records_after(settings, applied_offsets, {tp: end for tp, end in ends.items() if tp[0] in topics_read})
        for role in projection.topic_roles:
            topic = projection_settings.topic(role)
            for tp in (tp for tp in partitions if tp[0] == topic):
                row = applied.get((name, *tp))
                statuses.append(PartitionStatus(
                    name, tp[0], tp[1], row[3] if row else None, ends[tp], lags[tp],
                    str(row[4]) if row and row[4] else None, row[5] if row else None,
                    row[6] if row else None, row[7] if row else None,
                ))
    return statuses
