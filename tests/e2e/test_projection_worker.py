"""The projection worker against real Kafka, PostgreSQL and Redis: models, duplicates, order, crashes."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tests.support.clinical_events import hospital_morning

pytestmark = pytest.mark.integration

POSITION = ("last_topic", "last_partition", "last_offset")
TABLES = {
    "census_encounters": "encounter_id",
    "chart_patients": "patient_id",
    "chart_identifiers": "system, value, patient_id",
    "orders": "order_id",
    "results": "result_key",
    "vitals": "patient_id, code",
    "billing_accounts": "account_id",
    "billing_entries": "account_id, entry_id",
    "timeline_journal": "event_id",
}


def snapshot(stack, exclude=()):
    return {table: stack.rows(table, order, exclude) for table, order in TABLES.items()}


def test_morning_gives_expected_models(stack):
    stack.start_worker()
    stack.produce(hospital_morning())
    stack.wait_caught_up()

    census = {r["encounter_id"]: r for r in stack.rows("census_encounters", "encounter_id")}
    assert (census["E1"]["status"], census["E1"]["ward"], census["E1"]["room"], census["E1"]["bed"]) == ("admitted", "W2", "201", "B")
    assert census["E2"]["status"] == "discharged"
    assert (census["E4"]["status"], census["E4"]["ward"]) == ("admitted", "W3")

    charts = {r["patient_id"]: r for r in stack.rows("chart_patients", "patient_id")}
    assert "P3" not in charts
    assert charts["P1"]["merged_patient_ids"] == ["P3"]
    assert {i["value"] for i in charts["P1"]["identifiers"]} == {"MRN-P1", "MRN-P3"}
    assert charts["P4"]["demographics"]["phones"] == ["+1-555-0100"]
    assert charts["P1"]["current_encounter"]["ward"] == "W2"

    orders = {r["order_id"]: r for r in stack.rows("orders", "order_id")}
    assert {k: (o["department"], o["status"], o["patient_id"]) for k, o in orders.items()} == {
        "O1": ("LAB", "completed", "P1"), "O2": ("RAD", "placed", "P1"),
        "O3": ("LAB", "placed", "P1"), "O4": ("LAB", "cancelled", "P2"),
    }

    results = {r["result_key"]: r for r in stack.rows("results", "result_key")}
    r1 = results["O1/R1"]
    assert (r1["status"], r1["value_quantity"], r1["critical"], r1["abnormal"], r1["corrected"]) == ("corrected", 310.0, True, True, True)
    assert [h["value_quantity"] for h in r1["history"]] == [300.0]
    assert (results["O1/R2"]["abnormal"], results["O1/R2"]["critical"]) == (False, False)

    vitals = {(r["patient_id"], r["code"]): r for r in stack.rows("vitals", "patient_id, code")}
    assert vitals[("P1", "HR")]["value_quantity"] == 100.0
    assert [h["value_quantity"] for h in vitals[("P1", "HR")]["history"]] == [90.0, 80.0]
    assert vitals[("P4", "HR")]["value_quantity"] == 70.0

    accounts = {r["account_id"]: r for r in stack.rows("billing_accounts", "account_id")}
    assert (accounts["A1"]["balance"], accounts["A1"]["reversed_total"]) == (Decimal("7.5"), Decimal("12.5"))
    assert accounts["A2"]["balance"] == Decimal("100")

    timeline = stack.rows("timeline_journal", "occurred_at, event_id")
    assert len(timeline) == len(hospital_morning())
    assert {r["patient_id"] for r in timeline} == {"P1", "P2", "P4"}


def test_every_event_twice_changes_nothing(stack):
    events = hospital_morning()
    stack.start_worker()
    stack.produce(events)
    stack.wait_caught_up()
    once = snapshot(stack)

    stack.produce(events)
    stack.wait_caught_up()

    assert snapshot(stack) == once


def test_out_of_order_delivery_gives_same_models(stack, second_stack):
    events = hospital_morning()
    shuffled = list(events)
    random.Random(20261204).shuffle(shuffled)
    stack.start_worker()
    second_stack.start_worker()

    stack.produce(events)
    second_stack.produce(shuffled)
    stack.wait_caught_up()
    second_stack.wait_caught_up()

    in_order = snapshot(stack, exclude=POSITION + ("topic", "partition", "offset"))
    out_of_order = snapshot(second_stack, exclude=POSITION + ("topic", "partition", "offset"))
    for table in TABLES:
        assert out_of_order[table] == in_order[table], f"{table} differs"


def test_undecodable_record_is_parked_and_projection_goes_on(stack, live_services, codec):
    from tests.support.projection_stack import wait_for
    from heals.kafka import make_consumer

    events = hospital_morning()
    stack.start_worker()
    stack.produce(events[:5])
    stack.produce_raw("adt", b"P1", b"\xc3\x01not-avro-at-all")
    stack.produce(events[5:])
    stack.wait_caught_up()

    assert len(stack.rows("timeline_journal", "event_id")) == len(events)
    consumer = make_consumer(live_services, f"test-dlq-{stack.app_id}")
    consumer.subscribe([f"dlq.{stack.topics['adt']}"])
    parked = []
    try:
        wait_for(lambda: (m := consumer.poll(0.5)) is not None and not m.error() and parked.append(m) is None,
                 "a dead letter on the ADT dead-letter topic")
    finally:
        consumer.close()
    value = codec.decode(parked[0].value()).value
    assert value["original"] == b"\xc3\x01not-avro-at-all"
    assert value["source_topic"] == stack.topics["adt"]
