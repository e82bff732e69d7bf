"""Read decoded events from a test topic until a condition is true or a timeout passes."""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from heals.codec import Codec
from heals.kafka import make_consumer
from heals.settings import Settings


def read_events(settings: Settings, codec: Codec, topic: str, until: Callable[[list[dict[str, Any]]], bool],
                timeout: float = 60.0) -> list[dict[str, Any]]:
    """Return every event on the topic from offset 0, once ``until(events)`` is true or the timeout passed."""
    consumer = make_consumer(settings, f"test-reader-{uuid.uuid4().hex[:8]}")
    try:
        partitions = consumer.list_topics(topic, timeout=15).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(events):
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            events.append(codec.decode(message.value(), topic=topic).value)
        return events
    finally:
        consumer.close()


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    """Return the events of one type."""
    return [event for event in events if event["envelope"]["event_type"] == event_type]
