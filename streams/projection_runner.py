"""Turn raw Kafka records into projection writes: decode, dead-letter, apply, invalidate the cache.

The runner is synchronous; the Faust agents call it in a worker thread. It
returns only after PostgreSQL committed the batch, and the agent acks the
records after that, so Faust commits an offset only for records whose
writes are durable.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import psycopg

from heals.codec import Codec
from heals.dead_letters import DeadLetterWriter
from heals.errors import DecodeError
from heals.projections.cache import ReadCache, census_key, vitals_key
from heals.projections.journal import peek_event_type
from heals.projections.model import Projection, SourceEvent
from heals.projections.projector import Projector

__all__ = ["RawRecord", "ProjectionRunner"]

logger = logging.getLogger(__name__)

RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class RawRecord:
    """A Kafka record as consumed, before decoding."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class ProjectionRunner:
    """Applies batches of raw records to one projection, reconnecting to PostgreSQL when needed."""

    def __init__(
        self,
        projection: Projection,
        database_url: str,
        schema: str,
        codec: Codec,
        dead_letters: DeadLetterWriter | None,
        cache: ReadCache | None,
        parks_dead_letters: Callable[[str], bool] = lambda topic: True,
    ) -> None:
        self.projection = projection
        self.database_url = database_url
        self.schema = schema
        self.codec = codec
        self.dead_letters = dead_letters
        self.cache = cache
        self.parks_dead_letters = parks_dead_letters
        self._projector: Projector | None = None

    def _connect(self) -> Projector:
        if self._projector is None or self._projector.conn.closed:
            conn = psycopg.connect(self.database_url, autocommit=True, application_name=f"heals-{self.projection.name}")
            self._projector = Projector(self.projection, conn, self.schema)
            self._projector.ensure_tables()
        return self._projector

    def start(self) -> None:
        """Connect and create the projection's tables, retrying while PostgreSQL is unreachable."""
        self._with_retries(lambda projector: None)

    def close(self) -> None:
        """Close the PostgreSQL connection."""
        if self._projector is not None:
            self._projector.conn.close()

    def process(self, records: Sequence[RawRecord]) -> set[str]:
        """Decode, park what cannot be decoded, apply the rest; return the fold keys touched."""
        events = []
        for record in records:
            # The projection that parks a topic's bad records decodes every record. The others
            # skip event types they do not read and keep only the offset for their positions.
            if not self.parks_dead_letters(record.topic):
                peeked = peek_event_type(self.codec.catalogue.by_fingerprint, record.value)
                if peeked is not None and not self.projection.reads(peeked):
                    events.append(SourceEvent(record.topic, record.partition, record.offset, peeked, {}))
                    continue
            try:
                decoded = self.codec.decode(record.value, topic=record.topic, partition=record.partition,
                                            offset=record.offset)
            except DecodeError as exc:
                self._park(record, exc)
                continue
            if "envelope" not in decoded.value:
                logger.debug("%s: skipped %s at %s[%d]@%d, which has no envelope", self.projection.name,
                             decoded.event_type, record.topic, record.partition, record.offset)
                continue
            events.append(SourceEvent(record.topic, record.partition, record.offset, decoded.event_type, decoded.value))

        try:
            touched = self._with_retries(lambda projector: projector.apply(events))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # A decodable event the fold cannot read: find it by applying one event at a time.
            logger.error("%s: batch of %d events failed to fold (%s: %s); applying them one by one",
                         self.projection.name, len(events), type(exc).__name__, exc)
            raw = {(r.topic, r.partition, r.offset): r for r in records}
            touched = set()
            for event in events:
                touched |= self._apply_or_park(event, raw[(event.topic, event.partition, event.offset)])
        self._invalidate(touched)
        return touched

    def _apply_or_park(self, event: SourceEvent, record: RawRecord) -> set[str]:
        try:
            return self._with_retries(lambda projector: projector.apply([event]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if self.dead_letters is None:
                logger.error("%s: skipped %s at %s[%d]@%d that failed to fold: %s", self.projection.name,
                             event.event_type, event.topic, event.partition, event.offset, exc)
                return set()
            # Every projection that fails on it parks it, each under its own component name.
            self.dead_letters.park(record.topic, exc, record.value or b"", key=record.key, source_topic=record.topic,
                                   source_partition=record.partition, source_offset=record.offset)
            return set()

    def _park(self, record: RawRecord, exc: DecodeError) -> None:
        # Every projection that reads a topic receives the bad record, so only one of them parks it.
        if self.dead_letters is None or not self.parks_dead_letters(record.topic):
            logger.warning("%s: skipped undecodable record %s[%d]@%d", self.projection.name, record.topic,
                           record.partition, record.offset)
            return
        self.dead_letters.park(record.topic, exc, record.value or b"", key=record.key, source_topic=record.topic,
                               source_partition=record.partition, source_offset=record.offset)

    def _with_retries(self, action: Callable[[Projector], set[str] | None]) -> set[str]:
        attempt = 0
        while True:
            try:
                return action(self._connect()) or set()
            except psycopg.Error as exc:
                # The transaction rolled back, so the batch is applied again whole. Giving up instead
                # would let the agent ack records that were never written.
                delay = RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS) - 1)]
                attempt += 1
                if isinstance(exc, psycopg.OperationalError):
                    logger.warning("%s: PostgreSQL unreachable (attempt %d), retrying in %.1f s: %s",
                                   self.projection.name, attempt, delay, exc)
                else:
                    logger.error("%s: batch failed (attempt %d), retrying in %.1f s: %s: %s",
                                 self.projection.name, attempt, delay, type(exc).__name__, exc)
                self.close()
                self._projector = None
                time.sleep(delay)

    def _invalidate(self, touched: set[str]) -> None:
        if self.cache is None or not touched:
            return
        if self.projection.name == "census":
            self.cache.invalidate((), prefixes=(census_key(self.schema),))
        elif self.projection.name == "vitals":
            self.cache.invalidate(vitals_key(self.schema, patient_id) for patient_id in touched)
