"""The projection runner on real PostgreSQL: undecodable records and events a fold rejects are parked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Iterable

import psycopg
import pytest
from psycopg import sql

from heals.codec import Codec
from heals.projections.model import DerivedRow
from heals.projections.orders import OrdersProjection, ORDERS
from heals.streams.projection_runner import ProjectionRunner, RawRecord
from tests.support.clinical_events import BASE_TIME, EventFactory

pytestmark = pytest.mark.integration


@dataclass
class ParkedRecord:
    topic: str
    error: BaseException
    original: bytes


class RecordingDeadLetters:
    """Keeps parked records in memory instead of producing them."""

    def __init__(self) -> None:
        self.parked: list[ParkedRecord] = []

    def park(self, name: str, error: BaseException, original: bytes, key: bytes | None = None, **where: Any) -> str:
        self.parked.append(ParkedRecord(name, error, original))
        return f"dlq.{name}"


class PickyOrders(OrdersProjection):
    """The orders projection, except that its fold rejects order O-BAD."""

    def fold(self, key: str, events: list[dict[str, Any]]) -> Iterable[DerivedRow]:
        if key == "O-BAD":
            raise ValueError("order O-BAD cannot be folded")
        return super().fold(key, events)


@pytest.fixture
def schema(live_services):
    name = f"test_runner_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(live_services.postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def test_unfoldable_event_is_parked_and_rest_applied(live_services, catalogue, schema):
    codec = Codec(catalogue)
    projection = PickyOrders(name="orders", topic_roles=ORDERS.topic_roles, event_types=ORDERS.event_types,
                             keyed_by=ORDERS.keyed_by, tables=ORDERS.tables)
    dead_letters = RecordingDeadLetters()
    runner = ProjectionRunner(projection, live_services.postgres_url, schema, codec, dead_letters, None)
    factory = EventFactory()
    events = [factory.place_order("P1", order, BASE_TIME) for order in ("O1", "O-BAD", "O2")]
    records = [RawRecord("orders", 0, offset, b"P1", codec.encode(t, v, "orders")) for offset, (t, v) in enumerate(events)]
    records.append(RawRecord("orders", 0, 3, b"P1", b"\xc3\x01garbage"))

    runner.start()
    runner.process(records)
    runner.close()

    with psycopg.connect(live_services.postgres_url, autocommit=True) as conn:
        orders = conn.execute(sql.SQL("SELECT order_id FROM {} ORDER BY order_id").format(
            sql.Identifier(schema, "orders"))).fetchall()
    assert [row[0] for row in orders] == ["O1", "O2"]
    assert [type(p.error).__name__ for p in dead_letters.parked] == ["DecodeError", "ValueError"]
    assert dead_letters.parked[1].original == records[1].value
