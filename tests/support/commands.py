"""Builders of write-side commands with synthetic ids, shared by the command tests."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from heals.commands import models

__all__ = ["command", "charge", "result", "order", "OCCURRED_AT"]

OCCURRED_AT = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def command(model: type[models.Command], **fields: Any) -> Any:
    """Return a command with a fresh command id, a fixed ward time and a test source."""
    fields.setdefault("command_id", f"cmd-{uuid.uuid4().hex}")
    fields.setdefault("occurred_at", OCCURRED_AT)
    fields.setdefault("occurred_at_offset_minutes", 60)
    fields.setdefault("source", models.CommandSource(system="TEST^WARD", message_type="TEST", message_control_id="1"))
    return model(**fields)


def charge(account_id: str, patient_id: str, charge_id: str, encounter_id: str | None = None, **fields: Any) -> Any:
    """Return a PostCharge of 120.50 USD."""
    return command(
        models.PostCharge, account_id=account_id, patient_id=patient_id, charge_id=charge_id,
        encounter_id=encounter_id, code=models.Code(code="71045", system="CPT"),
        extended_amount=models.Money(amount=Decimal("120.50"), currency="USD"), **fields,
    )


def order(patient_id: str, order_id: str, **fields: Any) -> Any:
    """Return a PlaceOrder for a complete blood count."""
    return command(
        models.PlaceOrder, patient_id=patient_id, order_id=order_id, placer_order_number=f"PL-{order_id}",
        service=models.Code(code="58410-2", system="http://loinc.org", display="CBC panel"), **fields,
    )


def result(patient_id: str, order_id: str, result_id: str, status: str = "final", **fields: Any) -> Any:
    """Return a RecordResult of a haemoglobin value."""
    fields.setdefault("value_quantity", models.Quantity(value=13.2, unit="g/dL"))
    return command(
        models.RecordResult, patient_id=patient_id, order_id=order_id, result_id=result_id, status=status,
        code=models.Code(code="718-7", system="http://loinc.org"), **fields,
    )
