"""DFT^P03 financial transactions to PostCharge commands, one per FT1."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from heals.commands.models import Command, Money, PostCharge
from heals.connectors.hl7.errors import ErrorCode, MessageInvalid
from heals.connectors.hl7.mapping.context import MappingContext
from heals.connectors.hl7.mapping.groups import coded
from heals.connectors.hl7.message import Segment

__all__ = ["TRANSACTION_TYPES", "map_charges"]

# FT1-6 transaction type (HL7 table 0017) -> command; only charges are posted here.
TRANSACTION_TYPES = {"CG": "charge"}


def _money(ft1: Segment, number: int) -> Money | None:
    # CP price: component 1 is MO, whose subcomponents are quantity & denomination.
    amount_text = ft1.value(number, 1, subcomponent=1)
    if amount_text is None:
        return None
    currency = ft1.value(number, 1, subcomponent=2)
    try:
        amount = Decimal(amount_text.strip())
    except InvalidOperation as exc:
        raise MessageInvalid(ErrorCode.DATA_TYPE, f"FT1-{number} amount is not a number", ft1.location(number, 1)) from exc
    if not currency:
        raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, f"FT1-{number} has no currency (MO denomination)", ft1.location(number, 1))
    return Money(amount=amount, currency=currency.strip().upper())


def _charge(context: MappingContext, ft1: Segment, patient_id: str, encounter_id: str | None, account_id: str) -> Command:
    transaction_type = (ft1.value(6) or "").upper()
    if transaction_type not in TRANSACTION_TYPES:
        raise MessageInvalid(ErrorCode.TABLE_VALUE_NOT_FOUND, f"FT1-6 transaction type {transaction_type!r} is not supported; only CG charges are posted", ft1.location(6))
    code = coded(ft1, 7)
    if code is None:
        raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "FT1-7 transaction code is empty", ft1.location(7))
    quantity_text = ft1.value(10) or "1"
    try:
        quantity = float(quantity_text)
    except ValueError as exc:
        raise MessageInvalid(ErrorCode.DATA_TYPE, "FT1-10 transaction quantity is not a number", ft1.location(10)) from exc
    unit_price = _money(ft1, 12)
    extended = _money(ft1, 11)
    if extended is None and unit_price is not None:
        extended = Money(amount=unit_price.amount * Decimal(quantity_text), currency=unit_price.currency)
    if extended is None:
        # NOTE: ChargePosted requires an amount, so an unpriced charge (left to a
        # charge master) is answered AE until the event can carry a missing price.
        raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "FT1-11 extended amount and FT1-12 unit amount are empty", ft1.location(11))

    transaction_date = context.checked_timestamp(ft1, 4)
    occurred = transaction_date or context.event_time((("EVN", 2),))
    transaction_id = ft1.value(2)
    charge_id = f"{context.base_id}|FT1-{ft1.value(1) or ft1.sequence}"
    if transaction_id:
        charge_id = f"{context.message.sending_application}|{context.message.sending_facility}|{transaction_id}"
    modifiers = [ft1.value(26, 1, i) for i, _ in enumerate(ft1.repetitions(26), start=1)]
    return context.command(
        PostCharge, "charge", occurred,
        account_id=account_id,
        patient_id=patient_id,
        encounter_id=encounter_id,
        charge_id=charge_id,
        code=code,
        quantity=quantity,
        unit_price=unit_price,
        extended_amount=extended,
        department=ft1.value(13),
        modifiers=[modifier for modifier in modifiers if modifier],
        transaction_date=transaction_date.iso() if transaction_date else None,
    )


def map_charges(context: MappingContext) -> list[Command]:
    """Map every FT1 of a DFT^P03 to a charge on the account from PID-18, else the visit."""
    pid = context.require("PID")
    pv1 = context.message.first("PV1")
    patient_id, _ = context.patient_key(pid)
    encounter_id = context.encounter_id(pv1, patient_id, required=False)
    account_id = pid.value(18) or encounter_id
    if account_id is None:
        raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "PID-18 account number and PV1-19 visit number are empty", pid.location(18))
    transactions = context.message.all("FT1")
    if not transactions:
        raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, "required segment FT1 missing")
    return [_charge(context, ft1, patient_id, encounter_id, account_id.strip()) for ft1 in transactions]
