"""The relay publishes the event log exactly once and in order, across SIGKILL and unfinished transactions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from heals.commands import models
from heals.commands.relay import Relay, read_relay_position
from heals.commands.verify import WRITE_SIDE_TOPICS, read_to_end, verify_topics
from heals.registry import make_codec
from tests.support.commands import command

pytestmark = pytest.mark.integration

HEALS = Path(sys.executable).with_name("heals")


@pytest.fixture
def prefixed_topics(topic_factory) -> tuple[str, dict[str, str], str]:
    """A topic prefix, the four write-side topics under it, and a position topic."""
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    topics = {name: topic_factory(exact_name=prefix + name) for name in WRITE_SIDE_TOPICS}
    return prefix, topics, topic_factory(exact_name=prefix + "relay.position", partitions=1)


def fill_store(service, patients: int) -> None:
    """Store four events per patient: registered, admitted, transferred, discharged."""
    for start in range(0, patients, 250):
        batch = []
        for number in range(start, min(start + 250, patients)):
            patient_id = f"P{number}"
            batch += [
                command(models.AdmitPatient, patient_id=patient_id, encounter_id=f"E{number}"),
                command(models.TransferPatient, patient_id=patient_id, to_location=models.Location(ward="W2")),
                command(models.DischargePatient, patient_id=patient_id),
            ]
        service.execute_all(batch)


def published_records(settings, topics: dict[str, str]) -> list[tuple]:
    return [
        (m.topic(), m.partition(), m.key().decode(), dict(m.headers() or [])["heals-event-id"].decode())
        for m in read_to_end(settings, list(topics.values()))
    ]


def assert_published_exactly_once(service, settings, topics: dict[str, str]) -> None:
    logged = service.store.read_log(0, 1_000_000)
    by_event_id = {row.event_id: row for row in logged}
    records = published_records(settings, topics)

    event_ids = [record[3] for record in records]
    assert len(event_ids) == len(set(event_ids)), "an event was published twice"
    assert set(event_ids) == set(by_event_id), "published events differ from the store's"
    assert len(records) == len(logged)

    # Per aggregate, records arrive in version order on the topic of their event type, under the store's key.
    versions: dict[str, list[int]] = {}
    for topic, _, key, event_id in records:
        row = by_event_id[event_id]
        assert topic == topics[row.topic]
        assert key == row.key
        versions.setdefault(row.aggregate_id, []).append(row.aggregate_version)
    for aggregate_id, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"{aggregate_id} out of order: {seen}"


def test_relay_survives_sigkill_mid_publishing(service, settings, prefixed_topics, store_schema):
    prefix, topics, position_topic = prefixed_topics
    fill_store(service, 2500)
    total = service.store.count_events()
    assert total == 10_000
    transactional_id = f"test-relay-{uuid.uuid4().hex[:8]}"
    arguments = [
        str(HEALS), "--log-level", "DEBUG", "relay", "--schema", store_schema, "--topic-prefix", prefix,
        "--batch-size", "50", "--transactional-id", transactional_id, "--position-topic", position_topic,
    ]

    # First run: kill it once its log shows a committed batch past position 1000, mid-way through the log.
    first = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stderr:
            if "relay published" in line and int(line.rsplit(" ", 1)[1]) >= 1000:
                os.kill(first.pid, signal.SIGKILL)
                break
    finally:
        first.kill()
        first.wait()
    assert first.returncode == -signal.SIGKILL
    position = read_relay_position(settings, position_topic, transactional_id)
    assert 1000 <= position < total, "the relay was not killed mid-publishing"

    # Second run: publish the rest and stop.
    second = subprocess.run([*arguments, "--drain"], capture_output=True, timeout=600)
    assert second.returncode == 0, second.stderr.decode()

    assert_published_exactly_once(service, settings, topics)
    assert read_relay_position(settings, position_topic, transactional_id) == service.store.read_log(total - 1, 1)[0].position
    report = verify_topics(settings, make_codec(settings), topics.values())
    assert report.breaks == []
    assert report.records == total


def test_unfinished_transaction_is_aborted_on_restart(service, settings, relay_topics, position_topic):
    service.execute_all([command(models.AdmitPatient, patient_id=f"P{n}", encounter_id=f"E{n}") for n in range(30)])
    transactional_id = f"test-relay-{uuid.uuid4().hex[:8]}"

    # A relay that produced a whole batch into a transaction and died before committing it.
    crashed = Relay(settings, service.store, transactional_id=transactional_id, position_topic=position_topic,
                    batch_size=1000, topic_names=relay_topics)
    crashed.start()
    producer = crashed._producer
    producer.begin_transaction()
    for event in service.store.read_log(0, 1000):
        crashed._produce(producer, event, [])
    assert producer.flush(30) == 0

    restarted = Relay(settings, service.store, transactional_id=transactional_id, position_topic=position_topic,
                      batch_size=7, topic_names=relay_topics)
    restarted.start()
    assert restarted.position == 0
    assert restarted.drain() == 60
    restarted.close()

    assert_published_exactly_once(service, settings, relay_topics)


def test_relayed_records_carry_traceparent(service, settings, relay_topics, position_topic):
    service.execute(command(models.AdmitPatient, patient_id="P1", encounter_id="E1"))
    relay = Relay(settings, service.store, transactional_id=f"test-relay-{uuid.uuid4().hex[:8]}",
                  position_topic=position_topic, topic_names=relay_topics)
    relay.drain()
    relay.close()

    messages = list(read_to_end(settings, list(relay_topics.values())))
    assert len(messages) == 2
    for message in messages:
        traceparent = dict(message.headers())["traceparent"].decode()
        version, trace_id, span_id, flags = traceparent.split("-")
        assert (version, len(trace_id), len(span_id)) == ("00", 32, 16)
        assert message.key() == b"P1"


def test_command_trace_context_reaches_records(service, settings, relay_topics, position_topic):
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("inbound request") as span:
        service.execute(command(models.AdmitPatient, patient_id="P1", encounter_id="E1"))
        trace_id = format(span.get_span_context().trace_id, "032x")
    relay = Relay(settings, service.store, transactional_id=f"test-relay-{uuid.uuid4().hex[:8]}",
                  position_topic=position_topic, topic_names=relay_topics)
    relay.drain()
    relay.close()

    messages = list(read_to_end(settings, list(relay_topics.values())))
    assert [dict(m.headers())["traceparent"].decode().split("-")[1] for m in messages] == [trace_id, trace_id]
