"""The detector engine against real PostgreSQL and Kafka, driven in-process with a controllable clock."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from heals.envelope import new_envelope, seal
from heals.kafka import make_producer
from heals.registry import make_codec
from heals.settings import get_settings
from heals.streams.detectors.engine import DetectorEngine
from heals.streams.detectors.settings import DetectorSettings
from heals.streams.detectors.store import DetectorStore
from tests.support import detector_inputs as inputs
from tests.support.alert_reader import of_type, read_events

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.timezone.utc)
READINGS = "devices.readings.v1"
RESULTS = "clinical.results.v1"
ESCALATE_AFTER = 60


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def harness(live_services, topic_factory, tmp_path):
    alerts_topic = topic_factory("alerts", partitions=1)
    detector_settings = DetectorSettings(
        alerts_topic=alerts_topic, db_schema=f"detectors_test_{uuid.uuid4().hex[:10]}",
        escalate_after_seconds=ESCALATE_AFTER, charge_model_dir=tmp_path,
    )
    store = DetectorStore(live_services.postgres_url, detector_settings.db_schema)
    store.create()
    clock = Clock(dt.datetime.now(dt.timezone.utc))
    codec = make_codec(live_services)
    engine = DetectorEngine(live_services, detector_settings, store, codec, make_producer(live_services), clock)
    yield engine, clock, codec, alerts_topic
    store.drop()
    store.close()


def _feed(engine, codec, topic, events):
    return sum(engine.handle(topic, codec.encode(event["envelope"]["event_type"], event, topic)) for event in events)


def _read(engine, codec, topic, count):
    return read_events(get_settings(), codec, topic, lambda events: len(events) >= count)


def test_deterioration_reaches_high_band_and_anomaly(harness):
    engine, _, codec, alerts_topic = harness
    stable_sets, worsening_sets = 24, 8
    series = inputs.deteriorating_series("patient-det", START, stable_sets=stable_sets, worsening_sets=worsening_sets)
    sent = _feed(engine, codec, READINGS, series)

    events = _read(engine, codec, alerts_topic, sent)
    scores = of_type(events, "EarlyWarningScoreChanged")
    anomalies = of_type(events, "AnomalyDetected")
    first_set = {event["envelope"]["event_id"]: index // 7 for index, event in enumerate(series)}

    high = [event for event in scores if event["clinical_risk"] == "high"]
    assert high, [event["total"] for event in scores]
    # NEWS2 reaches high (9) at the fifth worsening set; see the values in detector_inputs.
    assert first_set[high[0]["trigger_event_id"]] - stable_sets + 1 == 5
    assert anomalies
    first_anomaly = min(first_set[event["input_event_id"]] for event in anomalies) - stable_sets + 1
    assert first_anomaly <= 2
    assert {component["input_event_id"] for component in high[0]["components"]} <= set(first_set)


def test_stable_series_raises_nothing_after_first_score(harness):
    engine, _, codec, alerts_topic = harness
    series = inputs.deteriorating_series("patient-stable", START, stable_sets=40, worsening_sets=0)
    sent = _feed(engine, codec, READINGS, series)

    assert sent == 2
    events = _read(engine, codec, alerts_topic, sent)
    assert [event["state"] for event in events] == ["incomplete", "scored"]
    assert events[1]["total"] == 0
    assert events[1]["clinical_risk"] == "low"
    assert events[1]["supersedes_event_id"] == events[0]["envelope"]["event_id"]


def test_late_reading_recomputes_and_supersedes(harness):
    engine, _, codec, alerts_topic = harness
    patient = "patient-late"
    first = inputs.observation_set(patient, START, rr=16, spo2=98, sbp=125, pulse=72, temp=36.8)
    newer_pulse = inputs.reading(patient, "pulse", 95, START + dt.timedelta(minutes=10))
    late_rr = inputs.reading(patient, "respiration_rate", 26, START + dt.timedelta(minutes=5))
    sent = _feed(engine, codec, READINGS, [*first, newer_pulse, late_rr])

    events = _read(engine, codec, alerts_topic, sent)
    assert [event["total"] for event in events] == [None, 0, 1, 4]
    late = events[-1]
    assert late["late_input"] is True
    assert late["trigger_event_id"] == late_rr["envelope"]["event_id"]
    assert late["supersedes_event_id"] == events[-2]["envelope"]["event_id"]
    assert late["clinical_risk"] == "low-medium"
    assert late["evaluated_at"] == START + dt.timedelta(minutes=10)


def test_scale_2_assignment_rescores_spo2(harness):
    engine, _, codec, alerts_topic = harness
    patient = "patient-copd"
    sent = _feed(engine, codec, READINGS, inputs.observation_set(patient, START, rr=16, spo2=89, sbp=125, pulse=72, temp=36.8))
    sent += _feed(engine, codec, "clinical.adt.v1", [inputs.scale_assigned(patient, 2, START + dt.timedelta(minutes=1))])

    events = _read(engine, codec, alerts_topic, sent)
    assert [(event["total"], event["spo2_scale"]) for event in events] == [(None, 1), (3, 1), (0, 2)]


def test_redelivered_reading_changes_nothing(harness):
    engine, _, codec, _ = harness
    readings = inputs.observation_set("patient-redelivered", START, rr=16, spo2=98, sbp=125, pulse=72, temp=36.8)
    assert _feed(engine, codec, READINGS, readings) == 2
    assert _feed(engine, codec, READINGS, readings) == 0


def test_sentinel_reading_is_recorded_as_rejected(harness):
    engine, _, codec, _ = harness
    sentinel = inputs.reading("patient-sentinel", "pulse", -999, START)
    assert _feed(engine, codec, READINGS, [sentinel]) == 0
    rows = engine.store.connection.execute(
        f"SELECT detector, reason FROM {engine.settings.db_schema}.rejected_inputs WHERE event_id = %s",
        (sentinel["envelope"]["event_id"],),
    ).fetchall()
    assert len(rows) == 1
    assert "sentinel" in rows[0][1]


def _acknowledgement(alert: dict, by: str, at: dt.datetime) -> dict:
    envelope = new_envelope(
        event_type="AlertAcknowledged", tenant_id="default", patient_id=alert["envelope"]["patient_id"],
        aggregate_id=alert["alert_id"], aggregate_version=2, occurred_at=at, source_system="tests",
        correlation_id=str(uuid.uuid4()), actor=by,
    )
    return seal({"envelope": envelope, "alert_id": alert["alert_id"], "acknowledged_by": by,
                 "acknowledged_at": at, "note": None}, alert["envelope"]["hash"])


def test_critical_potassium_escalates_only_when_unacknowledged(harness):
    engine, clock, codec, alerts_topic = harness
    sent = _feed(engine, codec, RESULTS, [inputs.result("patient-k1", "k-1", 7.1, START),
                                          inputs.result("patient-k2", "k-2", 2.4, START)])
    raised = of_type(_read(engine, codec, alerts_topic, sent), "CriticalResultRaised")
    assert sorted((event["envelope"]["patient_id"], event["direction"]) for event in raised) == [
        ("patient-k1", "high"), ("patient-k2", "low")]
    acknowledged = next(event for event in raised if event["envelope"]["patient_id"] == "patient-k2")
    sent += _feed(engine, codec, engine.settings.alerts_topic, [_acknowledgement(acknowledged, "nurse-7", clock.now)])

    clock.now += dt.timedelta(seconds=ESCALATE_AFTER - 1)
    assert engine.escalate() == 0
    clock.now += dt.timedelta(seconds=2)
    escalated = engine.escalate()
    assert escalated == 1
    assert engine.escalate() == 0

    events = _read(engine, codec, alerts_topic, sent + escalated)
    escalations = of_type(events, "AlertEscalated")
    assert [event["envelope"]["patient_id"] for event in escalations] == ["patient-k1"]
    assert escalations[0]["envelope"]["prev_hash"] is not None


def test_corrected_result_no_longer_critical_resolves_alert(harness):
    engine, _, codec, alerts_topic = harness
    original = inputs.result("patient-k3", "k-3", 6.9, START)
    corrected = inputs.result("patient-k3", "k-3", 4.4, START + dt.timedelta(minutes=20), status="corrected",
                              corrects=original["envelope"]["event_id"])
    sent = _feed(engine, codec, RESULTS, [original, corrected])

    events = _read(engine, codec, alerts_topic, sent)
    raised, resolved = of_type(events, "CriticalResultRaised"), of_type(events, "AlertResolved")
    assert len(raised) == 1
    assert len(resolved) == 1
    assert resolved[0]["alert_id"] == raised[0]["alert_id"]
    assert resolved[0]["reason"] == "corrected result no longer critical"
    assert resolved[0]["resolving_event_id"] == corrected["envelope"]["event_id"]
    assert engine.escalate() == 0
