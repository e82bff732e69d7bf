"""PID fields to Demographics: names, birth date, sex, addresses, phones, reliability."""

from __future__ import annotations

from heals.commands.models import Demographics
from heals.connectors.hl7.errors import ErrorCode
from heals.connectors.hl7.mapping.context import MappingContext
from heals.connectors.hl7.message import Segment

__all__ = ["demographics_from_pid", "cleared_fields"]

# Demographics field -> PID field it comes from, for explicit nulls ("").
PID_FIELDS = {
    "family_name": 5,
    "given_names": 5,
    "birth_date": 7,
    "administrative_sex": 8,
    "address_lines": 11,
    "phones": 13,
    "identity_reliability": 32,
}


def _name_repetition(pid: Segment) -> int:
    # XPN-7 name type code L is the legal name; without one the first repetition is used.
    for index, _ in enumerate(pid.repetitions(5), start=1):
        if (pid.value(5, 7, index) or "").upper() == "L":
            return index
    return 1


def _address_line(pid: Segment, index: int) -> str | None:
    parts = [pid.value(11, component, index) for component in (1, 2, 3, 4, 5, 6)]
    text = ", ".join(part.strip() for part in parts if part and part.strip())
    return text or None


def _phone(pid: Segment, number: int, index: int) -> str | None:
    # XTN-1 is the number as text until v2.5; later versions split it into XTN-5..7 and XTN-4 (email).
    text = pid.value(number, 1, index)
    if text:
        return text.strip()
    parts = [pid.value(number, component, index) for component in (5, 6, 7)]
    digits = " ".join(part for part in parts if part)
    if digits:
        return ("+" + digits) if parts[0] else digits
    return pid.value(number, 4, index)


def demographics_from_pid(context: MappingContext, pid: Segment) -> Demographics:
    """Read a PID segment into Demographics; an invalid PID-7 is kept out and warned about."""
    index = _name_repetition(pid)
    given = [pid.value(5, component, index) for component in (2, 3)]
    birth = context.checked_timestamp(pid, 7)
    if birth is None and pid.value(7) is not None:
        context.warn(ErrorCode.DATA_TYPE, "PID-7 date of birth is not a valid date; it was not recorded", pid, 7)

    addresses = [_address_line(pid, i) for i, _ in enumerate(pid.repetitions(11), start=1)]
    phones = [_phone(pid, number, i) for number in (13, 14) for i, _ in enumerate(pid.repetitions(number), start=1)]
    reliability = [pid.value(32, 1, i) for i, _ in enumerate(pid.repetitions(32), start=1)]
    return Demographics(
        family_name=pid.value(5, 1, index),
        given_names=[name.strip() for name in given if name and name.strip()],
        birth_date=birth.date_text() if birth is not None else None,
        administrative_sex=pid.value(8),
        address_lines=[line for line in addresses if line],
        phones=[phone for phone in phones if phone],
        identity_reliability=[code for code in reliability if code],
    )


def cleared_fields(pid: Segment) -> list[str]:
    """Return the Demographics fields the sender cleared with an explicit null ""."""
    return [name for name, number in PID_FIELDS.items() if pid.is_null(number)]
