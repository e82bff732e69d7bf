"""Rebuilds and crashes of the projection worker against real Kafka and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from heals.settings import REPO_ROOT
from tests.support.clinical_events import BASE_TIME, EventFactory, hospital_morning
from tests.support.projection_stack import wait_for
from tests.e2e.test_projection_worker import TABLES, snapshot

pytestmark = pytest.mark.integration


def run_cli(stack, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "heals", *args], cwd=REPO_ROOT, env=stack.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rebuild_gives_rows_identical_to_live(stack):
    stack.start_worker()
    stack.produce(hospital_morning())
    stack.wait_caught_up()
    live = snapshot(stack)

    output = run_cli(stack, "projections", "rebuild")
    rebuilt = snapshot(stack)

    assert "census:" in output
    assert "timeline:" in output
    for table in TABLES:
        assert rebuilt[table] == live[table], f"{table} differs after the rebuild"


def test_live_agent_writes_into_rebuilt_tables(stack):
    factory = EventFactory()
    stack.start_worker()
    stack.produce(hospital_morning(factory))
    stack.wait_caught_up()
    run_cli(stack, "projections", "rebuild", "orders")

    stack.produce([factory.place_order("P4", "O9", BASE_TIME.replace(hour=12), department="LAB")])
    stack.wait_caught_up()

    orders = {row["order_id"]: row for row in stack.rows("orders", "order_id")}
    assert orders["O9"]["status"] == "placed"
    assert len(orders) == 5


def test_status_shows_zero_lag_after_catch_up(stack):
    stack.start_worker()
    stack.produce(hospital_morning())
    stack.wait_caught_up()

    lines = run_cli(stack, "projections", "status").splitlines()[1:]

    assert lines, "status printed no partitions"
    for line in lines:
        assert line.split()[5] == "0", line


def test_worker_killed_mid_stream_loses_and_duplicates_nothing(stack):
    factory = EventFactory()
    morning = hospital_morning(factory)
    # Enough readings that the SIGKILL lands while batches are still being written.
    readings = [factory.reading(f"P{i % 4 + 1}", BASE_TIME.replace(hour=12, minute=i % 60, second=i // 60 % 60),
                                "HR", 60 + i % 40) for i in range(6000)]
    stack.start_worker()
    stack.produce(morning)
    stack.produce(readings)
    wait_for(lambda: len(stack.rows("timeline_journal", "event_id")) > len(morning), "first readings in the timeline",
             interval=0.05)
    stack.kill_worker(signal.SIGKILL)
    applied_before_kill = len(stack.rows("timeline_journal", "event_id"))

    stack.start_worker()
    stack.wait_caught_up()

    timeline = stack.rows("timeline_journal", "event_id")
    assert applied_before_kill < len(morning) + len(readings), "the worker finished before the kill"
    assert len(timeline) == len(morning) + len(readings)
    assert len({row["event_id"] for row in timeline}) == len(timeline)
    assert {str(row["event_id"]) for row in timeline} == {value["envelope"]["event_id"] for _, value in morning + readings}
    vitals = {(r["patient_id"], r["code"]): r for r in stack.rows("vitals", "patient_id, code")}
    last = {}
    for _, value in readings:
        key = (value["envelope"]["patient_id"], "HR")
        if key not in last or value["envelope"]["occurred_at"] >= last[key]["envelope"]["occurred_at"]:
            last[key] = value
    for key, value in last.items():
        survivor = "P1" if key[0] == "P3" else key[0]
        assert vitals[(survivor, "HR")]["observed_at"] >= value["envelope"]["occurred_at"]
