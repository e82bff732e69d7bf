"""Order worklists: each order's department, service, priority and status."""

from __future__ import annotations

from typing import Any, Iterable

from heals.projections.model import DerivedRow, Projection, Table

__all__ = ["ORDERS", "ACTIVE_STATUSES"]

# Statuses of an order that still needs work; completed and cancelled orders leave the worklist.
ACTIVE_STATUSES = ("placed", "scheduled", "in-progress", "on-hold")

ORDER_ROWS = Table(
    "orders",
    (
        ("order_id", "text NOT NULL"),
        ("patient_id", "text NOT NULL"),
        ("encounter_id", "text"),
        ("placer_order_number", "text"),
        ("filler_order_number", "text"),
        ("service_code", "text"),
        ("service_system", "text"),
        ("service_display", "text"),
        ("department", "text"),
        ("priority", "text"),
        ("ordering_provider", "text"),
        ("status", "text NOT NULL"),
        ("placed_at", "timestamptz"),
        ("status_changed_at", "timestamptz"),
        ("cancel_reason", "text"),
    ),
    key_column="order_id",
    primary_key=("order_id",),
    indexes=(("department", "status"), ("patient_id",)),
)


class OrdersProjection(Projection):
    """Orders by id, from the orders topic."""

    def key_part(self, event_type: str, value: dict[str, Any]) -> str | None:
        return value["order_id"]

    def fold(self, key: str, events: list[dict[str, Any]]) -> Iterable[DerivedRow]:
        if not events:
            return
        order: dict[str, Any] = {
            "order_id": key, "encounter_id": None, "placer_order_number": None, "filler_order_number": None,
            "service_code": None, "service_system": None, "service_display": None, "department": None,
            "priority": None, "ordering_provider": None, "status": "placed", "placed_at": None,
            "status_changed_at": None, "cancel_reason": None,
        }
        for row in events:
            body = row["body"]
            if row["event_type"] == "OrderPlaced":
                service = body["service"]
                order.update(
                    encounter_id=body["envelope"].get("encounter_id"),
                    placer_order_number=body["placer_order_number"],
                    filler_order_number=body.get("filler_order_number"),
                    service_code=service["code"], service_system=service.get("system"),
                    service_display=service.get("display"), department=body.get("department"),
                    priority=body.get("priority"), ordering_provider=body.get("ordering_provider"),
                    placed_at=row["occurred_at"],
                )
                # A status change that happened earlier than the placement is not undone by it.
                if order["status_changed_at"] is None:
                    order["status"] = "placed"
            elif row["event_type"] == "OrderStatusChanged":
                order.update(status=body["status"], status_changed_at=row["occurred_at"])
            elif row["event_type"] == "OrderCancelled":
                order.update(status="cancelled", status_changed_at=row["occurred_at"], cancel_reason=body.get("reason"))
        order["patient_id"] = events[-1]["patient_id"]
        yield DerivedRow(ORDER_ROWS.name, order, events[-1])


ORDERS = OrdersProjection(
    name="orders",
    topic_roles=("orders", "adt"),
    event_types=frozenset({"OrderPlaced", "OrderStatusChanged", "OrderCancelled"}),
    keyed_by="key_part",
    tables=(ORDER_ROWS,),
)
