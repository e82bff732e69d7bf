"""Park what cannot be processed on a dead-letter topic, with its original bytes."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Producer

from heals.codec import Codec
from heals.envelope import utc_now
from heals.topics import dead_letter_topic

__all__ = ["DeadLetterWriter", "dead_letter_record"]

logger = logging.getLogger(__name__)


def dead_letter_record(
    component: str,
    error: BaseException,
    original: bytes,
    *,
    source_topic: str | None = None,
    source_partition: int | None = None,
    source_offset: int | None = None,
    source_key: bytes | None = None,
    message_control_id: str | None = None,
) -> dict[str, Any]:
    """Build a DeadLetterParked value."""
    return {
        "parked_at": utc_now(),
        "component": component,
        "error_type": type(error).__name__,
        "error": str(error),
        "original": bytes(original),
        "source_topic": source_topic,
        "source_partition": source_partition,
        "source_offset": source_offset,
        "source_key": source_key,
        "message_control_id": message_control_id,
    }


class DeadLetterWriter:
    """Send DeadLetterParked records to dlq.<name> and wait until Kafka has them."""

    def __init__(self, producer: Producer, codec: Codec, component: str) -> None:
        self.producer = producer
        self.codec = codec
        self.component = component

    def park(self, name: str, error: BaseException, original: bytes, key: bytes | None = None, **where: Any) -> str:
        """Park one input on dlq.<name>; return the dead-letter topic."""
        topic = dead_letter_topic(name)
        record = dead_letter_record(self.component, error, original, source_key=key, **where)
        self.producer.produce(topic, key=key, value=self.codec.encode("DeadLetterParked", record, topic))
        remaining = self.producer.flush(30)
        if remaining:
            raise TimeoutError(f"dead letter for {topic} not acknowledged by Kafka within 30 s")
        logger.warning("parked input on %s: %s", topic, type(error).__name__)
        return topic
