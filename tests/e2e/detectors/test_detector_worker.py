"""Detectors in a running `heals worker`: restarts, escalation, acknowledgement over HTTP, the live feed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import redis
from fastapi.testclient import TestClient

from heals.streams.detectors.settings import get_detector_settings
from tests.support import detector_inputs as inputs
from tests.support.alert_reader import of_type
from tests.support.detector_stack import new_detector_stack
from tests.support.projection_stack import wait_for

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 3, 14, 8, 0, tzinfo=dt.timezone.utc)
WARMUP = 20


@pytest.fixture
def detector_stack(live_services, codec, topic_factory, tmp_path):
    stack = new_detector_stack(live_services, codec, topic_factory, tmp_path, HEALS_DETECTORS_ANOMALY_WARMUP=str(WARMUP),
                               HEALS_DETECTORS_ESCALATE_AFTER_SECONDS="6", HEALS_DETECTORS_ESCALATION_CHECK_SECONDS="0.5")
    yield stack
    stack.kill_worker()
    stack.drop()


def _pulse_model_learned(stack, patient_id):
    import pickle

    rows = stack.query(stack.detector_schema,
                       "SELECT model FROM {schema}.stream_models WHERE patient_id = %s AND parameter = 'pulse'",
                       (patient_id,))
    return pickle.loads(bytes(rows[0][0])).learned if rows else 0


def test_restart_keeps_models_and_alerts(detector_stack):
    stack = detector_stack
    patient = "patient-restart"
    stable = inputs.deteriorating_series(patient, START, stable_sets=WARMUP + 5, worsening_sets=0)
    stack.start_worker()
    stack.produce(stable)
    wait_for(lambda: _pulse_model_learned(stack, patient) == WARMUP + 5, "pulse model warm-up")

    stack.kill_worker()
    learned_before_restart = _pulse_model_learned(stack, patient)
    later = START + dt.timedelta(minutes=15 * (WARMUP + 5))
    # Produced while no worker runs: the restarted worker must pick them up.
    worsening = [inputs.reading(patient, "pulse", 76 + 12 * step, later + dt.timedelta(minutes=5 * step))
                 for step in range(1, 4)]
    stack.produce(worsening)
    stack.start_worker()

    events = stack.alerts(lambda events: len(of_type(events, "AnomalyDetected")) >= 1)
    anomalies = of_type(events, "AnomalyDetected")
    assert learned_before_restart == WARMUP + 5
    # Without the saved model the restarted worker would be in warm-up again and raise nothing.
    assert anomalies[0]["parameter"] == "pulse"
    assert anomalies[0]["input_event_id"] == worsening[0]["envelope"]["event_id"]
    assert anomalies[0]["baseline"]["readings_learned"] == WARMUP + 5

    # Every alert the detectors committed reached the topic, and exactly once per event id.
    committed = {row[0] for row in stack.query(stack.detector_schema, "SELECT event_id FROM {schema}.outbox")}
    events = stack.alerts(lambda events: {e["envelope"]["event_id"] for e in events} >= committed)
    assert {event["envelope"]["event_id"] for event in events} == committed
    unsent = stack.query(stack.detector_schema, "SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL")
    assert unsent[0][0] == 0
    scores = of_type(events, "EarlyWarningScoreChanged")
    versions = sorted({event["envelope"]["aggregate_version"] for event in scores})
    assert versions == list(range(1, len(versions) + 1))


def test_critical_potassium_escalates_unless_acknowledged_over_http(detector_stack, monkeypatch):
    stack = detector_stack
    for name, value in stack.env.items():
        if name.startswith("HEALS_DETECTORS_"):
            monkeypatch.setenv(name, value)
    get_detector_settings.cache_clear()
    from heals.http import create_app
    from heals.projections.alerts import api

    api._store.cache_clear()
    feed = redis.Redis.from_url(stack.settings.redis).pubsub()
    feed.subscribe(stack.channel)
    stack.start_worker()
    stack.produce([inputs.result("patient-k-open", "k-open", 7.3, START),
                   inputs.result("patient-k-ack", "k-ack", 7.4, START)])

    client = TestClient(create_app())
    rows = wait_for(lambda: len(client.get("/alerts", params={"status": "open"}).json()) == 2 and
                    client.get("/alerts", params={"status": "open"}).json(), "two open critical alerts")
    acknowledged = next(row for row in rows if row["patient_id"] == "patient-k-ack")
    response = client.post(f"/alerts/{acknowledged['alert_id']}/acknowledge", json={"acknowledged_by": "nurse-7"})
    assert response.status_code == 202, response.text

    events = stack.alerts(lambda events: len(of_type(events, "AlertEscalated")) >= 1)
    escalated = of_type(events, "AlertEscalated")
    assert [event["envelope"]["patient_id"] for event in escalated] == ["patient-k-open"]
    # The escalation check that escalated one alert saw both as due; only the acknowledgement held the other back.
    row = wait_for(lambda: client.get(f"/alerts/{acknowledged['alert_id']}").json()["acknowledged_by"] and
                   client.get(f"/alerts/{acknowledged['alert_id']}").json(), "acknowledgement in the projection")
    assert row["status"] == "acknowledged"
    assert row["acknowledged_by"] == "nurse-7"
    escalated_row = wait_for(lambda: client.get("/alerts", params={"status": "escalated"}).json(), "escalated row")
    assert [r["patient_id"] for r in escalated_row] == ["patient-k-open"]
    assert client.post(f"/alerts/{acknowledged['alert_id']}/acknowledge", json={"acknowledged_by": "x"}).status_code == 409

    messages = []
    wait_for(lambda: _drain(feed, messages) and len(messages) >= 4, "four feed messages")
    assert {message["event_type"] for message in messages} >= {"CriticalResultRaised", "AlertAcknowledged", "AlertEscalated"}
    feed.close()
    get_detector_settings.cache_clear()
    api._store.cache_clear()


def _drain(pubsub, messages):
    while (message := pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)) is not None:
        messages.append(json.loads(message["data"]))
    return True
