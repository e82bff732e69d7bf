"""ORU^R01 laboratory results to RecordResult commands, one per OBX."""

from __future__ import annotations

import re

from heals.commands.models import Code, Command, Quantity, RecordResult
from heals.connectors.hl7.errors import ErrorCode, MessageInvalid
from heals.connectors.hl7.mapping.context import MappingContext
from heals.connectors.hl7.mapping.groups import OrderGroup, coded, order_groups, order_id
from heals.connectors.hl7.message import Segment

__all__ = ["RESULT_STATUS", "VALUE_TYPES", "map_result"]

# OBX-11 observation result status (HL7 table 0085) -> RecordResult.status.
# I (pending) and N (not asked) carry no result and are skipped.
RESULT_STATUS = {
    "P": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "F": "final",
    "U": "final",
    "C": "corrected",
    "X": "cancelled",
    "D": "cancelled",
    "W": "cancelled",
}
SKIPPED_STATUS = {"I", "N"}

# OBX-2 value type (HL7 table 0125) -> how OBX-5 is read.
VALUE_TYPES = {
    "NM": "quantity",
    "SN": "structured",
    "CE": "code", "CWE": "code", "CNE": "code", "CF": "code",
    "ST": "text", "TX": "text", "FT": "text", "DT": "text", "DTM": "text", "TS": "text", "TM": "text",
    "ID": "text", "IS": "text", "TN": "text", "PN": "text", "XPN": "text", "XAD": "text", "XCN": "text",
    "XON": "text", "XTN": "text", "AD": "text", "CN": "text", "CP": "text", "MO": "text", "NA": "text",
    "RP": "text", "ED": "document", "CX": "text", "EI": "text", "HD": "text", "DR": "text", "CK": "text",
}

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


def _number(text: str | None, obx: Segment) -> float:
    if text is None or not _NUMBER.fullmatch(text.strip()):
        raise MessageInvalid(ErrorCode.DATA_TYPE, "OBX-5 is not a number as OBX-2 declares", obx.location(5))
    return float(text)


def _unit(obx: Segment) -> tuple[str | None, str | None]:
    return obx.value(6, 1), obx.value(6, 3)


def _value(obx: Segment) -> dict:
    value_type = (obx.value(2) or "").upper()
    kind = VALUE_TYPES.get(value_type)
    if kind is None:
        raise MessageInvalid(ErrorCode.DATA_TYPE, f"OBX-2 value type {value_type!r} is not an HL7 data type", obx.location(2))
    repetitions = obx.repetitions(5)
    if not repetitions or all(rep in ("", '""') for rep in repetitions):
        return {}
    if kind in ("quantity", "structured") and len(repetitions) > 1:
        raise MessageInvalid(ErrorCode.DATA_TYPE, f"OBX-5 repeats a {value_type} value; one observation contains one number", obx.location(5))
    unit, unit_system = _unit(obx)

    if kind == "quantity":
        return {"value_quantity": Quantity(value=_number(obx.value(5), obx), unit=unit, unit_system=unit_system)}
    if kind == "structured":
        # SN: comparator ^ num1 ^ separator/suffix ^ num2. A plain number (^182)
        # is a quantity; a comparison or a range stays text, never guessed.
        comparator, first, separator, second = (obx.value(5, c) for c in (1, 2, 3, 4))
        if not comparator and not separator and second is None:
            return {"value_quantity": Quantity(value=_number(first, obx), unit=unit, unit_system=unit_system)}
        return {"value_text": "".join(part for part in (comparator, first, separator, second) if part)}
    if kind == "code":
        return {"value_code": coded(obx, 5)}
    if kind == "document":
        data = obx.value(5, 5)
        if not data:
            raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "OBX-5 encapsulated data has no data component", obx.location(5, 5))
        return {"value_text": f"{obx.value(5, 2) or ''}/{obx.value(5, 3) or ''} document"}
    texts = [obx.text(rep, subcomponent=None) for rep in repetitions]
    return {"value_text": "\n".join(text for text in texts if text)}


def _observation_time(context: MappingContext, group: OrderGroup, obx: Segment):
    return context.message.timestamp(obx, 14) or context.message.timestamp(group.obr, 7) or context.event_time(())


def map_result(context: MappingContext) -> list[Command]:
    """Map every OBX of every order group of a laboratory ORU^R01."""
    commands: list[Command] = []
    groups = order_groups(context.message)
    if not groups:
        raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, "required segment OBR missing")
    for group in groups:
        if group.pid is None:
            raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, "required segment PID missing; a result is not attached to any patient")
        patient_id, _ = context.patient_key(group.pid)
        # Results carry no demographics, but an invalid PID-7 is still flagged.
        context.checked_timestamp(group.pid, 7)
        identifier, placer, filler = order_id(group)
        if identifier is None:
            raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "OBR-2 placer and OBR-3 filler order number are empty", group.obr.location(2))
        encounter_id = context.encounter_id(group.pv1, patient_id, required=False)
        # A result for an order HEALS never saw places the order first (an
        # unsolicited result); the write side does that when these are given.
        unsolicited = {
            "placer_order_number": placer or identifier,
            "filler_order_number": filler,
            "order_service": coded(group.obr, 4) if group.obr is not None else None,
        }
        order_status = group.obr.value(25) if group.obr else None

        for obx in group.all("OBX"):
            status_code = ((obx.value(11) or order_status or "F").strip()).upper()
            if status_code in SKIPPED_STATUS:
                continue
            status = RESULT_STATUS.get(status_code)
            if status is None:
                raise MessageInvalid(ErrorCode.TABLE_VALUE_NOT_FOUND, f"OBX-11 result status {status_code!r} is not in HL7 table 0085", obx.location(11))
            code = coded(obx, 3)
            if code is None:
                raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "OBX-3 observation identifier is empty", obx.location(3))
            value = _value(obx)
            flags = [obx.value(8, 1, i) for i, _ in enumerate(obx.repetitions(8), start=1)]
            sub_id = obx.value(4) or ""
            commands.append(context.command(
                RecordResult, "result", _observation_time(context, group, obx),
                patient_id=patient_id,
                encounter_id=encounter_id,
                order_id=identifier,
                result_id=f"{code.system or ''}|{code.code}|{sub_id}",
                code=Code(code=code.code, system=code.system, display=code.display),
                status=status,
                reference_range=obx.value(7, subcomponent=None),
                abnormal_flags=[flag for flag in flags if flag],
                **unsolicited,
                **value,
            ))
    return commands
