"""The Order aggregate: an order for a service, its status and the results recorded for it.

A result with status corrected or cancelled, for a result id recorded
before, names the earlier event in corrects_event_id. The earlier event
stays in the history unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

from heals.commands.aggregate import HealsAggregate, event_id_for
from heals.commands.errors import RuleViolation

__all__ = ["Order", "CANCELLED"]

CANCELLED = "cancelled"
CORRECTING_STATUSES = ("corrected", "cancelled")


class Order(HealsAggregate):
    """An order placed for a patient, with its status and results."""

    KIND = "order"

    @staticmethod
    def create_id(order_id: str) -> uuid.UUID:
        return Order.uuid_for(order_id)

    class OrderPlaced(HealsAggregate.Created):
        patient_id: str
        encounter_id: str | None
        order_id: str
        placer_order_number: str
        filler_order_number: str | None
        service: dict[str, Any]
        department: str | None
        priority: str | None
        ordering_provider: str | None
        specimen_count: int

    def __init__(self, patient_id: str, order_id: str, **_: Any) -> None:
        self.domain_id = order_id
        self.patient_id = patient_id
        self.status = "placed"
        # result id -> event id of the latest ResultRecorded for it.
        self.results: dict[str, str] = {}

    @property
    def order_id(self) -> str:
        """The order id this aggregate was placed under."""
        return self.domain_id

    class OrderStatusChanged(HealsAggregate.Event):
        patient_id: str
        order_id: str
        status: str
        previous_status: str | None
        hl7_order_control: str | None

        def apply(self, order: Order) -> None:
            order.status = self.status

    def change_status(self, patient_id: str, status: str, hl7_order_control: str | None) -> None:
        """Move the order to a new status."""
        self._require_not_cancelled("order-status-requires-active-order")
        self.trigger_event(
            self.OrderStatusChanged, patient_id=patient_id, order_id=self.order_id, status=status,
            previous_status=self.status, hl7_order_control=hl7_order_control,
        )

    class OrderCancelled(HealsAggregate.Event):
        patient_id: str
        order_id: str
        reason: str | None

        def apply(self, order: Order) -> None:
            order.status = CANCELLED

    def cancel(self, patient_id: str, reason: str | None) -> None:
        """Withdraw the order."""
        self._require_not_cancelled("cancel-order-requires-active-order")
        self.trigger_event(self.OrderCancelled, patient_id=patient_id, order_id=self.order_id, reason=reason)

    class ResultRecorded(HealsAggregate.Event):
        patient_id: str
        encounter_id: str | None
        order_id: str
        result_id: str
        code: dict[str, Any]
        status: str
        value_quantity: dict[str, Any] | None
        value_code: dict[str, Any] | None
        value_text: str | None
        reference_range: str | None
        abnormal_flags: list[str]
        corrects_event_id: str | None

        def apply(self, order: Order) -> None:
            order.results[self.result_id] = event_id_for(order.aggregate_key, self.originator_version)

    def record_result(self, result_id: str, status: str, **details: Any) -> None:
        """Record a result; a correction or cancellation names the result's previous event."""
        self._require_not_cancelled("result-requires-active-order")
        corrects = self.results.get(result_id) if status in CORRECTING_STATUSES else None
        self.trigger_event(
            self.ResultRecorded, order_id=self.order_id, result_id=result_id, status=status,
            corrects_event_id=corrects, **details,
        )

    def _require_not_cancelled(self, rule: str) -> None:
        if self.status == CANCELLED:
            raise RuleViolation(
                rule, "the order was cancelled", aggregate_id=self.aggregate_key, state=f"order {self.status}",
                order_id=self.order_id,
            )
