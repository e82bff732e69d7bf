"""Each projection's applied offsets against the end of its topics: lag and last event."""

from __future__ import annotations

import datetime as dt
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

__all__ = ["PartitionStatus", "end_offsets", "projection_status"]


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


@dataclass(frozen=True)
class PartitionStatus:
    """Progress of one projection on one topic partition."""

    projection: str
    topic: str
    partition: int
    applied_offset: int | None
    end_offset: int
    last_event_id: str | None
    last_event_type: str | None
    last_occurred_at: dt.datetime | None
    applied_at: dt.datetime | None

    @property
    def lag(self) -> int:
        """Records on the partition after the last applied one."""
        return max(self.end_offset - (self.applied_offset if self.applied_offset is not None else -1) - 1, 0)


def projection_status(settings: Settings, projection_settings: ProjectionSettings) -> list[PartitionStatus]:
    """Return the status of every projection on every partition of its topics."""
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
        for role in projection.topic_roles:
            topic = projection_settings.topic(role)
            for tp in (tp for tp in partitions if tp[0] == topic):
                row = applied.get((name, *tp))
                statuses.append(PartitionStatus(
                    name, tp[0], tp[1], row[3] if row else None, ends[tp],
                    str(row[4]) if row and row[4] else None, row[5] if row else None,
                    row[6] if row else None, row[7] if row else None,
                ))
    return statuses
