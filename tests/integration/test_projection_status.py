"""Lag of a projection on partitions written in Kafka transactions, whose last offset is a marker."""

from __future__ import annotations

import uuid

import pytest

from heals.kafka import make_producer
from heals.projections.status import end_offsets, records_after

pytestmark = pytest.mark.integration


def test_lag_ignores_transaction_marker(live_services, topic_factory):
    topic = topic_factory("test.status", partitions=1)
    producer = make_producer(live_services, **{"transactional.id": f"test-status-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for number in range(3):
        producer.produce(topic, key=b"P1", value=f"record {number}".encode())
    producer.commit_transaction(30)
    ends = end_offsets(live_services, [(topic, 0)])

    after_all = records_after(live_services, {(topic, 0): 2}, ends)
    after_first = records_after(live_services, {(topic, 0): 0}, ends)

    assert ends[(topic, 0)] == 4
    assert after_all[(topic, 0)] == 0
    assert after_first[(topic, 0)] == 2
