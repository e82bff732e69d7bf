"""Billing ledger per account: charges, reversals and the balance of what is not reversed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from heals.projections.model import DerivedRow, Projection, Table

__all__ = ["BILLING"]

ACCOUNTS = Table(
    "billing_accounts",
    (
        ("account_id", "text NOT NULL"),
        ("patient_id", "text NOT NULL"),
        ("currency", "text"),
        ("balance", "numeric(18, 4) NOT NULL"),
        ("posted_total", "numeric(18, 4) NOT NULL"),
        ("reversed_total", "numeric(18, 4) NOT NULL"),
        ("charge_count", "integer NOT NULL"),
        ("reversal_count", "integer NOT NULL"),
        ("opened_at", "timestamptz"),
    ),
    key_column="account_id",
    primary_key=("account_id",),
    indexes=(("patient_id",),),
)

ENTRIES = Table(
    "billing_entries",
    (
        ("entry_id", "text NOT NULL"),
        ("account_id", "text NOT NULL"),
        ("patient_id", "text NOT NULL"),
        ("kind", "text NOT NULL"),
        ("code", "text"),
        ("code_system", "text"),
        ("code_display", "text"),
        ("quantity", "double precision"),
        ("amount", "numeric(18, 4)"),
        ("currency", "text"),
        ("department", "text"),
        ("transaction_date", "text"),
        ("reversed_charge_id", "text"),
        ("reversed_by", "text"),
        ("reason", "text"),
        ("occurred_at", "timestamptz NOT NULL"),
    ),
    key_column="account_id",
    primary_key=("account_id", "entry_id"),
)


class BillingProjection(Projection):
    """Charges and reversals by account, from the charges topic."""

    def key_part(self, event_type: str, value: dict[str, Any]) -> str | None:
        return value["account_id"]

    def fold(self, key: str, events: list[dict[str, Any]]) -> Iterable[DerivedRow]:
        if not events:
            return
        # A reversal can arrive before its charge, so collect reversals over the whole history first.
        reversed_by = {row["body"]["reversed_charge_id"]: row["body"]["charge_id"]
                       for row in events if row["event_type"] == "ChargeReversed"}
        posted = reversed_total = Decimal(0)
        currency = None
        charges = reversals = 0
        for row in events:
            body = row["body"]
            entry: dict[str, Any] = {
                "entry_id": body["charge_id"], "account_id": key, "patient_id": row["patient_id"], "code": None,
                "code_system": None, "code_display": None, "quantity": None, "amount": None, "currency": None,
                "department": None, "transaction_date": None, "reversed_charge_id": None, "reversed_by": None,
                "reason": None, "occurred_at": row["occurred_at"],
            }
            if row["event_type"] == "ChargePosted":
                amount = Decimal(body["extended_amount"]["amount"])
                currency = currency or body["extended_amount"]["currency"]
                charges += 1
                posted += amount
                entry.update(kind="charge", code=body["code"]["code"], code_system=body["code"].get("system"),
                             code_display=body["code"].get("display"), quantity=body["quantity"], amount=amount,
                             currency=body["extended_amount"]["currency"], department=body.get("department"),
                             transaction_date=body.get("transaction_date"),
                             reversed_by=reversed_by.get(body["charge_id"]))
                if body["charge_id"] in reversed_by:
                    reversed_total += amount
            else:
                reversals += 1
                entry.update(kind="reversal", reversed_charge_id=body["reversed_charge_id"], reason=body.get("reason"))
            yield DerivedRow(ENTRIES.name, entry, row)

        yield DerivedRow(ACCOUNTS.name, {
            "account_id": key,
            "patient_id": events[-1]["patient_id"],
            "currency": currency,
            "balance": posted - reversed_total,
            "posted_total": posted,
            "reversed_total": reversed_total,
            "charge_count": charges,
            "reversal_count": reversals,
            "opened_at": events[0]["occurred_at"],
        }, events[-1])


BILLING = BillingProjection(
    name="billing",
    topic_roles=("charges", "adt"),
    event_types=frozenset({"ChargePosted", "ChargeReversed"}),
    keyed_by="key_part",
    tables=(ACCOUNTS, ENTRIES),
)
