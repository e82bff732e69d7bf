"""`heals verify` finds an altered event, whether it was altered in the store or on the topic."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from heals.commands import models
from heals.commands.relay import Relay
from heals.commands.verify import verify_topics
from heals.envelope import seal
from heals.kafka import make_producer
from heals.registry import make_codec
from tests.support.commands import command

pytestmark = pytest.mark.integration

HEALS = Path(sys.executable).with_name("heals")


def store_history(service) -> None:
    service.execute_all([command(models.AdmitPatient, patient_id=f"P{n}", encounter_id=f"E{n}") for n in range(3)])
    service.execute(command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward="W9")))
    service.execute(command(models.DischargePatient, patient_id="P1"))


def relay_all(settings, service, topics, position_topic) -> None:
    relay = Relay(settings, service.store, transactional_id=f"test-relay-{uuid.uuid4().hex[:8]}",
                  position_topic=position_topic, topic_names=topics)
    relay.drain()
    relay.close()


def run_verify(topics: dict[str, str]) -> subprocess.CompletedProcess:
    arguments = [str(HEALS), "verify"]
    for topic in topics.values():
        arguments += ["--topic", topic]
    return subprocess.run(arguments, capture_output=True, text=True, timeout=300)


def test_untouched_history_verifies(service, settings, relay_topics, position_topic):
    store_history(service)
    relay_all(settings, service, relay_topics, position_topic)

    completed = run_verify(relay_topics)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.startswith("ok: 8 records, 3 aggregates")


def test_event_altered_in_store_is_reported(service, settings, relay_topics, position_topic, store_schema):
    store_history(service)
    codec = make_codec(settings)
    target = next(row for row in service.store.read_log(0, 100) if row.event_type == "PatientTransferred")

    # Change the ward of the stored transfer and keep its old hash, as a careless forger would.
    value = codec.decode(target.value).value
    value["to_location"]["ward"] = "FORGED"
    with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
        conn.execute(
            SQL("UPDATE {}.{} SET value = %s WHERE position = %s").format(
                Identifier(store_schema), Identifier(service.store.event_log_table)),
            (codec.encode(target.event_type, value, target.topic), target.position),
        )
    relay_all(settings, service, relay_topics, position_topic)

    completed = run_verify(relay_topics)

    assert completed.returncode == 1
    adt = relay_topics["clinical.adt.v1"]
    assert f"topic {adt} partition" in completed.stdout
    assert f"aggregate {target.aggregate_id} version {target.aggregate_version}" in completed.stdout
    assert "content does not match its hash" in completed.stdout


def test_resealed_record_on_topic_is_reported(service, settings, relay_topics, position_topic):
    store_history(service)
    relay_all(settings, service, relay_topics, position_topic)
    codec = make_codec(settings)
    adt = relay_topics["clinical.adt.v1"]
    target = next(row for row in service.store.read_log(0, 100) if row.event_type == "PatientTransferred")

    # A forged copy of version 3 whose own hash is correct but whose chain link is not.
    value = codec.decode(target.value).value
    value["to_location"]["ward"] = "FORGED"
    forged = seal(value, "0" * 64)
    producer = make_producer(settings)
    producer.produce(adt, key=target.key.encode(), value=codec.encode(target.event_type, forged, adt))
    assert producer.flush(30) == 0

    report = verify_topics(settings, codec, relay_topics.values())

    assert report.first_break is not None
    assert report.first_break.aggregate_id == target.aggregate_id
    assert report.first_break.aggregate_version == target.aggregate_version
    assert report.first_break.reason == "version appears twice"
    assert run_verify(relay_topics).returncode == 1


def test_missing_version_is_reported(service, settings, relay_topics, position_topic, store_schema):
    store_history(service)
    with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
        conn.execute(
            SQL("DELETE FROM {}.{} WHERE aggregate_id = 'patient:P1' AND aggregate_version = 3").format(
                Identifier(store_schema), Identifier(service.store.event_log_table)),
        )
    relay_all(settings, service, relay_topics, position_topic)

    report = verify_topics(settings, make_codec(settings), relay_topics.values())

    assert [(b.aggregate_id, b.aggregate_version, b.reason) for b in report.breaks] == [
        ("patient:P1", 4, "version 3 is missing")
    ]
