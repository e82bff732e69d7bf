"""Recompute every aggregate's hash chain from Kafka and find where it breaks.

Each record must carry the hash of its own content chained to its
prev_hash, each prev_hash must equal the hash of the aggregate's previous
version, and (unless gap checking is off) every aggregate's versions must
run 1, 2, 3 ... without a gap or a repeat. One aggregate can span topics
(an order's results travel on clinical.results.v1) and partitions (events
after a merge are keyed by the survivor), so records are grouped by
aggregate and checked in version order after the topics are read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from heals.codec import Codec
from heals.envelope import chain_hash
from heals.errors import DecodeError, InfraError
from heals.kafka import make_consumer
from heals.settings import Settings
from heals.topics import ADT, CHARGES, ORDERS, RESULTS

__all__ = ["ChainBreak", "VerifyReport", "WRITE_SIDE_TOPICS", "read_to_end", "verify_topics"]

logger = logging.getLogger(__name__)

# Topics the relay publishes: every event on them belongs to a hash chain.
WRITE_SIDE_TOPICS = (ADT.name, ORDERS.name, RESULTS.name, CHARGES.name)


@dataclass(frozen=True)
class ChainBreak:
    """A break in a hash chain: the record where it shows and the reason."""

    topic: str
    partition: int
    offset: int
    aggregate_id: str | None
    aggregate_version: int | None
    reason: str

    def describe(self) -> str:
        """Return a one-line description for the command line."""
        return (
            f"chain broken at topic {self.topic} partition {self.partition} offset {self.offset}: "
            f"aggregate {self.aggregate_id} version {self.aggregate_version}: {self.reason}"
        )


@dataclass
class VerifyReport:
    """The result of reading the topics: how much was checked and every break found, first first."""

    records: int = 0
    aggregates: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def first_break(self) -> ChainBreak | None:
        """The break with the lowest (topic, partition, offset), or None when every chain holds."""
        return self.breaks[0] if self.breaks else None


@dataclass(frozen=True)
class _Link:
    version: int
    prev_hash: str | None
    hash: str
    topic: str
    partition: int
    offset: int


def verify_topics(
    settings: Settings, codec: Codec, topics: Iterable[str] = WRITE_SIDE_TOPICS, *, check_gaps: bool = True,
    timeout: float = 600.0,
) -> VerifyReport:
    """Read the topics from offset 0 to their end (read_committed) and check every aggregate's chain."""
    report = VerifyReport()
    chains: dict[str, list[_Link]] = {}
    for message in read_to_end(settings, list(topics), timeout):
        report.records += 1
        where = (message.topic(), message.partition(), message.offset())
        try:
            value = codec.decode(message.value(), topic=where[0], partition=where[1], offset=where[2]).value
        except DecodeError as exc:
            report.breaks.append(ChainBreak(*where, None, None, f"record cannot be decoded: {exc.reason}"))
            continue
        envelope = value.get("envelope")
        if envelope is None:
            report.breaks.append(ChainBreak(*where, None, None, "record has no envelope"))
            continue
        aggregate_id, version = envelope["aggregate_id"], envelope["aggregate_version"]
        if chain_hash(envelope["prev_hash"], value) != envelope["hash"]:
            report.breaks.append(ChainBreak(*where, aggregate_id, version, "content does not match its hash"))
        chains.setdefault(aggregate_id, []).append(
            _Link(version, envelope["prev_hash"], envelope["hash"], *where)
        )

    # Link each version to the one before it.
    report.aggregates = len(chains)
    for aggregate_id, links in chains.items():
        links.sort(key=lambda link: (link.version, link.topic, link.partition, link.offset))
        previous: _Link | None = None
        for link in links:
            where = (link.topic, link.partition, link.offset)
            if previous is not None and link.version == previous.version:
                report.breaks.append(ChainBreak(*where, aggregate_id, link.version, "version appears twice"))
                continue
            expected_version = previous.version + 1 if previous is not None else 1
            if check_gaps and link.version != expected_version:
                missing = (f"version {expected_version} is missing" if link.version == expected_version + 1
                           else f"versions {expected_version} to {link.version - 1} are missing")
                report.breaks.append(ChainBreak(*where, aggregate_id, link.version, missing))
            elif link.version == expected_version:
                expected_prev = previous.hash if previous is not None else None
                if link.prev_hash != expected_prev:
                    report.breaks.append(ChainBreak(
                        *where, aggregate_id, link.version, "prev_hash does not match the previous version's hash"
                    ))
            previous = link
    report.breaks.sort(key=lambda b: (b.topic, b.partition, b.offset))
    return report


def read_to_end(settings: Settings, topics: list[str], timeout: float = 600.0) -> Iterator[Message]:
    """Yield every committed record of the topics from offset 0 to the end of each partition."""
    consumer = make_consumer(settings, "heals-verify", **{"enable.partition.eof": True})
    try:
        assignment = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=15).topics[topic]
            if metadata.error is not None:
                raise InfraError(f"cannot read topic {topic}: {metadata.error}")
            assignment.extend(TopicPartition(topic, p, 0) for p in metadata.partitions)
        consumer.assign(assignment)
        remaining = {(tp.topic, tp.partition) for tp in assignment}
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise InfraError(f"topics not read to their end within {timeout} s; {len(remaining)} partitions left")
            for message in consumer.consume(1000, 1.0):
                error = message.error()
                if error is None:
                    yield message
                elif error.code() == KafkaError._PARTITION_EOF:
                    remaining.discard((message.topic(), message.partition()))
                elif not error.retriable():
                    raise KafkaException(error)
    finally:
        consumer.close()
