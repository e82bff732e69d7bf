"""A consume loop that decodes records, hands them on, dead-letters bad ones and commits.

Offsets are committed only after the handler returned, so a crash means
redelivery, never loss; handlers are idempotent, so redelivery changes
nothing. A record that cannot be decoded is parked on dlq.<topic> with its
bytes and the loop goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message

from heals.codec import Codec, DecodedRecord
from heals.dead_letters import DeadLetterWriter
from heals.errors import DecodeError

__all__ = ["ConsumedEvent", "consume"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumedEvent:
    """A decoded event and where it was read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    record: DecodedRecord
    headers: list[tuple[str, bytes]] | None

    @property
    def value(self) -> dict:
        """The decoded event."""
        return self.record.value


def consume(
    consumer: Consumer,
    codec: Codec,
    topics: Iterable[str],
    handle: Callable[[ConsumedEvent], None],
    dead_letters: DeadLetterWriter,
    *,
    should_stop: Callable[[], bool],
    poll_timeout: float = 0.5,
) -> int:
    """Consume until should_stop() is true; return the number of records processed."""
    consumer.subscribe(list(topics))
    processed = 0
    while not should_stop():
        message = consumer.poll(poll_timeout)
        if message is None:
            continue
        if message.error():
            _raise_unless_benign(message.error())
            continue
        _process(message, codec, handle, dead_letters)
        consumer.commit(message=message, asynchronous=False)
        processed += 1
    return processed


def _process(message: Message, codec: Codec, handle: Callable[[ConsumedEvent], None], dead_letters: DeadLetterWriter) -> None:
    where = {"topic": message.topic(), "partition": message.partition(), "offset": message.offset()}
    try:
        record = codec.decode(message.value(), **where)
    except DecodeError as exc:
        dead_letters.park(
            message.topic(), exc, message.value() or b"", key=message.key(),
            source_topic=where["topic"], source_partition=where["partition"], source_offset=where["offset"],
        )
        return
    handle(ConsumedEvent(message.topic(), message.partition(), message.offset(), message.key(), record, message.headers()))


def _raise_unless_benign(error: KafkaError) -> None:
    if error.code() == KafkaError._PARTITION_EOF:
        return
    if error.retriable():
        logger.warning("retriable consumer error: %s", error)
        return
    raise KafkaException(error)
