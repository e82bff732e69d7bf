"""The projection API over read models a running worker built from real Kafka topics."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from heals.commands.position import encode_position
from heals.kafka import make_consumer, make_producer
from heals.projections.api import ReadModels, get_read_models, router
from heals.projections.audit import AccessRecorder
from heals.projections.cache import ReadCache
from heals.projections.settings import ProjectionSettings
from tests.support.clinical_events import BASE_TIME, EventFactory, hospital_morning
from tests.support.projection_stack import wait_for

pytestmark = pytest.mark.integration


def make_client(stack, redis_url: str, audit_topic: str | None = None, timeout: float = 1.0):
    settings = ProjectionSettings(db_schema=stack.schema, min_position_timeout_seconds=timeout,
                                  audit_topic=audit_topic or "unused", audit_enabled=audit_topic is not None,
                                  alerts_table=None)
    pool = ConnectionPool(stack.settings.postgres_url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True)
    recorder = AccessRecorder(make_producer(stack.settings), stack.codec, audit_topic, "default") if audit_topic else None
    models = ReadModels(settings, pool, ReadCache(redis_url, 60), recorder)
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_read_models] = lambda: models
    return TestClient(app), models


@pytest.fixture
def morning_stack(stack):
    factory = EventFactory()
    stack.start_worker()
    stack.produce(hospital_morning(factory))
    stack.wait_caught_up()
    stack.factory = factory
    return stack


@pytest.fixture
def client(morning_stack, live_services):
    client, models = make_client(morning_stack, live_services.redis)
    yield client
    models.pool.close()


def test_census_lists_admitted_beds(client):
    answer = client.get("/census", params={"day": "2026-12-04"}).json()

    assert [(i["patient_id"], i["ward"], i["room"], i["bed"]) for i in answer["items"]] == [
        ("P1", "W2", "201", "B"), ("P4", "W3", "301", "A")]
    assert answer["occupied"] == 2
    assert answer["admissions_today"] == 3
    assert answer["discharges_today"] == 1


def test_chart_summary_of_merged_patient(client):
    chart = client.get("/patients/P3").json()

    assert chart["patient_id"] == "P1"
    assert chart["resolved_from"] == "P3"
    assert {o["order_id"] for o in chart["active_orders"]} == {"O2", "O3"}
    assert {v["code"] for v in chart["latest_vitals"]} == {"HR", "SPO2"}
    assert any(r["critical"] for r in chart["latest_results"])


def test_patient_search_by_identifier(client):
    found = client.get("/patients", params={"identifier": "HOSP|MRN-P3"}).json()["items"]
    invalid = client.get("/patients", params={"identifier": "no-separator"})

    assert [p["patient_id"] for p in found] == ["P1"]
    assert invalid.status_code == 400


def test_worklist_filters_department_and_status(client):
    lab_placed = client.get("/orders", params={"department": "LAB", "status": "placed"}).json()["items"]
    first_page = client.get("/orders", params={"limit": 2}).json()

    assert [o["order_id"] for o in lab_placed] == ["O3"]
    assert len(first_page["items"]) == 2
    assert first_page["next_offset"] == 2


def test_results_vitals_and_ledger(client):
    results = client.get("/patients/P1/results").json()["items"]
    vitals = client.get("/patients/P1/vitals").json()["items"]
    ledger = client.get("/billing/accounts/A1").json()

    glucose = next(r for r in results if r["result_id"] == "R1")
    assert (glucose["status"], glucose["value_quantity"], glucose["critical"]) == ("corrected", 310.0, True)
    assert [h["value_quantity"] for h in glucose["history"]] == [300.0]
    assert next(v for v in vitals if v["code"] == "HR")["value_quantity"] == 100.0
    assert ledger["balance"] == "7.5000"
    assert [e["entry_id"] for e in ledger["entries"]] == ["C1", "C2", "C3"]
    assert client.get("/billing/accounts/nope").status_code == 404


def test_etag_gives_304(client):
    first = client.get("/patients/P1")
    again = client.get("/patients/P1", headers={"If-None-Match": first.headers["etag"]})
    cached_first = client.get("/census")
    cached_again = client.get("/census", headers={"If-None-Match": cached_first.headers["etag"]})

    assert first.status_code == 200
    assert again.status_code == 304
    assert cached_again.status_code == 304


def test_min_position_waits_or_times_out(client, morning_stack):
    applied = encode_position("O1", 3)
    ahead = encode_position("O1", 99)

    ok = client.get("/orders", params={"min_position": applied})
    late = client.get("/orders", params={"min_position": ahead})
    bad = client.get("/orders", params={"min_position": "garbage"})

    assert ok.status_code == 200
    assert late.status_code == 504
    assert late.json()["detail"]["position_reached"] == {"aggregate_id": "O1", "aggregate_version": 3}
    assert bad.status_code == 400


def test_min_position_sees_a_write_made_while_waiting(morning_stack, live_services):
    client, models = make_client(morning_stack, live_services.redis, timeout=60)
    try:
        event = morning_stack.factory.change_order("P1", "O2", BASE_TIME.replace(hour=12), "scheduled")
        morning_stack.produce([event])
        token = encode_position("O2", event[1]["envelope"]["aggregate_version"])

        answer = client.get("/orders", params={"min_position": token, "department": "RAD"})

        assert answer.status_code == 200
        assert answer.json()["items"][0]["status"] == "scheduled"
    finally:
        models.pool.close()


def test_timeline_as_of_leaves_out_later_records(stack, live_services):
    recorded = BASE_TIME.replace(hour=11)
    factory = EventFactory(recorded_at=recorded)
    late = EventFactory(recorded_at=BASE_TIME.replace(hour=15))
    late.versions, late.hashes = factory.versions, factory.hashes
    stack.start_worker()
    stack.produce(hospital_morning(factory))
    # Charted at 15:00 for something that happened at 08:15.
    stack.produce([late.reading("P1", BASE_TIME.replace(hour=8, minute=15), "RR", 18)])
    stack.wait_caught_up()
    client, models = make_client(stack, live_services.redis)
    try:
        now = client.get("/patients/P1/timeline", params={"limit": 1000}).json()["items"]
        before = client.get("/patients/P1/timeline", params={"limit": 1000, "as_of": "2026-12-04T12:00:00Z"}).json()["items"]
        naive = client.get("/patients/P1/timeline", params={"as_of": "2026-12-04T12:00:00"})
    finally:
        models.pool.close()

    occurred = [entry["occurred_at"] for entry in now]
    assert occurred == sorted(occurred)
    assert [e for e in now if e["event_type"] == "DeviceReadingRecorded" and e["data"]["code"]["code"] == "RR"]
    assert not [e for e in before if e["data"].get("code", {}).get("code") == "RR"]
    assert len(before) == len(now) - 1
    assert all(entry["recorded_at"] for entry in now)
    assert naive.status_code == 400


def test_api_answers_with_redis_down(morning_stack):
    client, models = make_client(morning_stack, "redis://127.0.0.1:1/0")
    try:
        census = client.get("/census")
        vitals = client.get("/patients/P1/vitals")
    finally:
        models.pool.close()

    assert census.status_code == 200
    assert vitals.status_code == 200
    assert vitals.json()["items"]


def test_chart_read_is_audited(morning_stack, live_services, topic_factory):
    audit_topic = topic_factory("test.audit", partitions=1)
    client, models = make_client(morning_stack, live_services.redis, audit_topic=audit_topic)
    try:
        client.get("/patients/P1", headers={"X-Heals-Actor": "nurse-7", "X-Heals-Purpose": "treatment"})
        assert models.recorder.flush() == 0
    finally:
        models.pool.close()

    consumer = make_consumer(live_services, f"test-audit-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([audit_topic])
    records = []
    try:
        wait_for(lambda: (m := consumer.poll(0.5)) is not None and not m.error() and records.append(m) is None,
                 "an AccessRecorded event")
    finally:
        consumer.close()
    access = morning_stack.codec.decode(records[0].value()).value
    assert (access["patient_id"], access["actor"], access["purpose"], access["resource"]) == ("P1", "nurse-7", "treatment", "chart")
    assert access["accessed_at"] <= dt.datetime.now(dt.timezone.utc)
