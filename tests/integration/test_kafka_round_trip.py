"""Every event type through the real broker in both framings, and a corrupted record."""

from __future__ import annotations

import time
import uuid

import pytest

from heals.codec import Codec
from heals.consuming import consume
from heals.dead_letters import DeadLetterWriter
from heals.kafka import make_consumer, make_producer, trace_headers
from heals.registry import make_registry
from tests.support.avro_samples import sample_value
from tests.unit.test_codec import EVENT_TYPES

pytestmark = pytest.mark.integration


def _produce_all(settings, codec, catalogue, topic):
    producer = make_producer(settings)
    sent = {}
    for event_type in EVENT_TYPES:
        value = sample_value(catalogue.get(event_type).expanded)
        value["envelope"]["event_id"] = str(uuid.uuid4())
        sent[value["envelope"]["event_id"]] = (event_type, value)
        producer.produce(topic, key=b"patient-1", value=codec.encode(event_type, value, topic), headers=trace_headers())
    assert producer.flush(30) == 0
    return sent


def _consume_until(settings, codec, topic, expected_count, timeout=60):
    received = []
    consumer = make_consumer(settings, f"test-{uuid.uuid4().hex}")
    writer = DeadLetterWriter(make_producer(settings), codec, "round-trip-test")
    deadline = time.monotonic() + timeout
    try:
        consume(
            consumer, codec, [topic], received.append, writer,
            should_stop=lambda: len(received) >= expected_count or time.monotonic() > deadline,
        )
    finally:
        consumer.close()
    return received


@pytest.mark.parametrize("framing", ["single-object", "confluent"])
def test_every_event_type_round_trips_through_broker(live_services, catalogue, topic_factory, framing):
    registry = make_registry("mock://round-trip") if framing == "confluent" else None
    codec = Codec(catalogue, registry)
    topic = topic_factory("roundtrip", partitions=1)

    sent = _produce_all(live_services, codec, catalogue, topic)
    received = _consume_until(live_services, codec, topic, len(sent))

    assert len(received) == len(sent)
    for event in received:
        event_type, value = sent[event.value["envelope"]["event_id"]]
        assert event.record.event_type == event_type
        for field_name, field_value in value.items():
            assert event.value[field_name] == field_value, f"{event_type}.{field_name} changed in transit"


def test_corrupted_record_is_dead_lettered_and_stream_continues(live_services, catalogue, topic_factory):
    codec = Codec(catalogue)
    topic = topic_factory("corrupt", partitions=1)
    dead_letter_topic = topic_factory(exact_name=f"dlq.{topic}", partitions=1)
    good = sample_value(catalogue.get("OrderPlaced").expanded)
    corrupted = codec.encode("OrderPlaced", good, topic)[:-12]
    producer = make_producer(live_services)
    for value in (codec.encode("OrderPlaced", good, topic), corrupted, codec.encode("OrderPlaced", good, topic)):
        producer.produce(topic, key=b"p1", value=value)
    assert producer.flush(30) == 0

    received = _consume_until(live_services, codec, topic, expected_count=2)
    parked = _consume_until(live_services, codec, dead_letter_topic, expected_count=1)

    assert [event.offset for event in received] == [0, 2]
    assert len(parked) == 1
    dead_letter = parked[0].value
    assert dead_letter["original"] == corrupted
    assert dead_letter["source_key"] == b"p1"
    assert (dead_letter["source_topic"], dead_letter["source_partition"], dead_letter["source_offset"]) == (topic, 0, 1)
    assert f"topic {topic!r} partition 0 offset 1" in dead_letter["error"]
    assert "truncated OrderPlaced body" in dead_letter["error"]
