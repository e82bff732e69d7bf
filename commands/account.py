"""The Account aggregate: charges posted to a billing account and their reversals.

An account opens with its first charge and bills for one encounter: the
encounter named by the first charge that names one. The account is closed
while that encounter is discharged or its admission was cancelled; a
cancelled discharge reopens it. A closed account takes no new charges, but
a posted charge can still be reversed, because a reversal corrects the bill
rather than adding to it. An account whose charges never named an encounter
stays open.
"""

from __future__ import annotations

import uuid
from typing import Any

from heals.commands.aggregate import HealsAggregate
from heals.commands.errors import RuleViolation

__all__ = ["Account"]


class Account(HealsAggregate):
    """A billing account with the charges posted to it."""

    KIND = "account"

    @staticmethod
    def create_id(account_id: str) -> uuid.UUID:
        return Account.uuid_for(account_id)

    class AccountOpenedByCharge(HealsAggregate.Created):
        """The first ChargePosted of an account; the Avro event is ChargePosted."""

        AVRO_EVENT_TYPE = "ChargePosted"
        account_id: str
        patient_id: str
        encounter_id: str | None
        charge_id: str
        code: dict[str, Any]
        quantity: float
        unit_price: dict[str, Any] | None
        extended_amount: dict[str, Any]
        department: str | None
        modifiers: list[str]
        transaction_date: str | None

        def apply(self, account: Account) -> None:
            account.charges[self.charge_id] = False

    def __init__(self, account_id: str, encounter_id: str | None, **_: Any) -> None:
        self.domain_id = account_id
        self.encounter_id = encounter_id
        # charge id -> True once reversed; reversal charge id -> reversed charge id.
        self.charges: dict[str, bool] = {}
        self.reversal_ids: dict[str, str] = {}

    @property
    def account_id(self) -> str:
        """The account id this aggregate was opened under."""
        return self.domain_id

    @staticmethod
    def require_open(account_id: str, encounter_id: str | None, encounter_status: str | None, charge_id: str) -> None:
        """Reject a charge when the account's encounter is discharged or cancelled."""
        if encounter_status in ("discharged", "cancelled"):
            raise RuleViolation(
                "charge-requires-open-account", "the account is closed because its encounter ended",
                aggregate_id=Account.key_for(account_id), state=f"closed, encounter {encounter_id} {encounter_status}",
                account_id=account_id, encounter_id=encounter_id, charge_id=charge_id,
            )

    class ChargePosted(HealsAggregate.Event):
        account_id: str
        patient_id: str
        encounter_id: str | None
        charge_id: str
        code: dict[str, Any]
        quantity: float
        unit_price: dict[str, Any] | None
        extended_amount: dict[str, Any]
        department: str | None
        modifiers: list[str]
        transaction_date: str | None

        def apply(self, account: Account) -> None:
            account.charges[self.charge_id] = False
            if account.encounter_id is None:
                account.encounter_id = self.encounter_id

    def post_charge(self, charge_id: str, encounter_id: str | None, **details: Any) -> None:
        """Post one more charge; the caller has checked that the account is open."""
        if charge_id in self.charges or charge_id in self.reversal_ids:
            raise RuleViolation(
                "charge-requires-new-charge-id", "the charge id was used before on this account",
                aggregate_id=self.aggregate_key, state=self.state, account_id=self.account_id, charge_id=charge_id,
            )
        if encounter_id is not None and self.encounter_id is not None and encounter_id != self.encounter_id:
            raise RuleViolation(
                "charge-requires-account-encounter", "the account bills for another encounter",
                aggregate_id=self.aggregate_key, state=self.state, account_id=self.account_id,
                encounter_id=encounter_id, charge_id=charge_id,
            )
        self.trigger_event(
            self.ChargePosted, account_id=self.account_id, charge_id=charge_id, encounter_id=encounter_id, **details
        )

    class ChargeReversed(HealsAggregate.Event):
        account_id: str
        patient_id: str
        charge_id: str
        reversed_charge_id: str
        reason: str | None

        def apply(self, account: Account) -> None:
            account.charges[self.reversed_charge_id] = True
            account.reversal_ids[self.charge_id] = self.reversed_charge_id

    def reverse_charge(self, patient_id: str, charge_id: str, reversed_charge_id: str, reason: str | None) -> None:
        """Reverse a posted charge of this account, once."""
        ids = {"account_id": self.account_id, "charge_id": charge_id, "reversed_charge_id": reversed_charge_id}
        if reversed_charge_id not in self.charges:
            raise RuleViolation("reversal-requires-posted-charge", "the account has no such charge",
                                aggregate_id=self.aggregate_key, state=self.state, **ids)
        if self.charges[reversed_charge_id]:
            raise RuleViolation("reversal-requires-unreversed-charge", "the charge was reversed before",
                                aggregate_id=self.aggregate_key, state=self.state, **ids)
        if charge_id in self.charges or charge_id in self.reversal_ids:
            raise RuleViolation("reversal-requires-new-charge-id", "the reversal's charge id was used before",
                                aggregate_id=self.aggregate_key, state=self.state, **ids)
        self.trigger_event(
            self.ChargeReversed, account_id=self.account_id, patient_id=patient_id, charge_id=charge_id,
            reversed_charge_id=reversed_charge_id, reason=reason,
        )

    @property
    def state(self) -> str:
        """A short description of the account for error messages."""
        reversed_count = sum(self.charges.values())
        return f"account with {len(self.charges)} charges, {reversed_count} reversed"
