"""Behaviour every detector and the alerts projection share: replay, redelivery, untouched inputs."""

from __future__ import annotations

import copy
import datetime as dt
import uuid

import pytest

from heals.kafka import make_producer
from heals.projections.alerts.store import AlertsStore
from heals.registry import make_codec
from heals.settings import get_settings
from heals.streams.detectors.engine import DetectorEngine
from heals.streams.detectors.settings import DetectorSettings
from heals.streams.detectors.store import DetectorStore
from tests.support import detector_inputs as inputs
from tests.support.alert_reader import read_events

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.timezone.utc)


def _mixed_input():
    events = inputs.deteriorating_series("patient-b1", START, stable_sets=22, worsening_sets=6)
    events.append(inputs.result("patient-b2", "k-b2", 7.0, START))
    events.append(inputs.result("patient-b3", "na-b3", 115, START, loinc="2951-2"))
    return events


def _run(settings, topic_factory, tmp_path, events):
    alerts_topic = topic_factory("alerts", partitions=1)
    detector_settings = DetectorSettings(alerts_topic=alerts_topic, charge_model_dir=tmp_path,
                                         db_schema=f"detectors_test_{uuid.uuid4().hex[:10]}")
    store = DetectorStore(settings.postgres_url, detector_settings.db_schema)
    store.create()
    codec = make_codec(settings)
    try:
        engine = DetectorEngine(settings, detector_settings, store, codec, make_producer(settings))
        topics = {"DeviceReadingRecorded": "devices.readings.v1", "ResultRecorded": "clinical.results.v1"}
        sent = sum(engine.handle(topics[e["envelope"]["event_type"]],
                                 codec.encode(e["envelope"]["event_type"], e, topics[e["envelope"]["event_type"]]))
                   for e in events)
    finally:
        store.drop()
        store.close()
    return read_events(get_settings(), codec, alerts_topic, lambda received: len(received) >= sent)


def _without_recording_time(event):
    body = copy.deepcopy(event)
    for field in ("recorded_at", "hash", "prev_hash", "correlation_id"):
        body["envelope"].pop(field)
    return body


def test_replay_gives_identical_alerts(live_services, topic_factory, tmp_path):
    events = _mixed_input()
    first = _run(live_services, topic_factory, tmp_path, events)
    second = _run(live_services, topic_factory, tmp_path, events)

    assert len(first) > 3
    assert [_without_recording_time(e) for e in first] == [_without_recording_time(e) for e in second]


def test_detectors_leave_input_events_unchanged(live_services, topic_factory, tmp_path):
    events = _mixed_input()
    before = copy.deepcopy(events)
    _run(live_services, topic_factory, tmp_path, events)
    assert events == before


def test_alerts_projection_applies_each_event_once(live_services, topic_factory, tmp_path):
    alerts = _run(live_services, topic_factory, tmp_path, _mixed_input())
    store = AlertsStore(live_services.postgres_url, f"alerts_test_{uuid.uuid4().hex[:10]}")
    store.create()
    try:
        assert all(store.apply(event) for event in alerts)
        rows = store.list(limit=1000)
        assert not any(store.apply(event) for event in alerts)
        assert store.list(limit=1000) == rows
        assert len(rows) == len(alerts)
        superseded = [row for row in rows if row["status"] == "superseded"]
        assert len(superseded) == len([e for e in alerts if e.get("supersedes_event_id")])
    finally:
        store.drop()
        store.close()
