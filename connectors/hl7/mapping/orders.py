"""ORM^O01 and OML^O21 to order commands, by ORC-1 order control code."""

from __future__ import annotations

from heals.commands.models import CancelOrder, ChangeOrderStatus, Command, PlaceOrder
from heals.connectors.hl7.errors import ErrorCode, MessageInvalid
from heals.connectors.hl7.mapping.context import MappingContext
from heals.connectors.hl7.mapping.groups import OrderGroup, coded, order_groups, order_id

__all__ = ["ORDER_CONTROL", "ORDER_STATUS", "map_order"]

# ORC-1 order control (HL7 table 0119) -> what the command does. Status
# changes read the new status from ORC-5 unless the row fixes it.
ORDER_CONTROL = {
    "NW": "place",
    "SN": "place",
    "CA": "cancel",
    "OC": "cancel",
    "DC": "cancel",
    "CR": "cancel",
    "SC": "status",
    "XO": "status",
    "HD": "on-hold",
    "OH": "on-hold",
    "RL": "placed",
    "CM": "completed",
    "IP": "in-progress",
}

# ORC-5 order status (HL7 table 0038) -> ChangeOrderStatus.status.
ORDER_STATUS = {
    "SC": "scheduled",
    "IP": "in-progress",
    "A": "in-progress",
    "CM": "completed",
    "CA": "cancelled",
    "DC": "cancelled",
    "HD": "on-hold",
    "ER": "cancelled",
}


def _order_time(context: MappingContext, group: OrderGroup):
    # ORC-9 date/time of transaction is when the order event happened; ORC-15
    # (order effective date) is only checked, so an invalid one is flagged.
    if group.orc is not None:
        context.checked_timestamp(group.orc, 15)
        occurred = context.message.timestamp(group.orc, 9)
        if occurred is not None:
            return occurred
    return context.event_time(())


def _place(context: MappingContext, group: OrderGroup, patient_id: str, ids) -> Command:
    identifier, placer, filler = ids
    obr = group.obr
    service = coded(obr, 4) if obr is not None else None
    if service is None:
        location = obr.location(4) if obr is not None else group.orc.location()
        raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "OBR-4 universal service identifier is empty", location)
    tq1 = next(iter(group.all("TQ1")), None)
    priority = (tq1.value(9) if tq1 else None) or (group.orc.value(7, 6) if group.orc else None) or obr.value(5)
    return context.command(
        PlaceOrder, "place-order", _order_time(context, group),
        patient_id=patient_id,
        encounter_id=context.encounter_id(group.pv1, patient_id, required=False),
        order_id=identifier,
        placer_order_number=placer or identifier,
        filler_order_number=filler,
        service=service,
        department=obr.value(24),
        priority=priority,
        ordering_provider=(group.orc.value(12) if group.orc else None) or obr.value(16),
        specimen_count=len(group.all("SPM")),
    )


def map_order(context: MappingContext) -> list[Command]:
    """Map every order group of an ORM or OML message."""
    commands: list[Command] = []
    groups = order_groups(context.message)
    if not groups:
        raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, "required segment ORC missing")
    for group in groups:
        if group.pid is None:
            raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, "required segment PID missing")
        patient_id, _ = context.patient_key(group.pid)
        ids = order_id(group)
        if ids[0] is None:
            location = (group.orc or group.obr).location(2)
            raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "ORC-2 placer and ORC-3 filler order number are empty", location)
        control = (group.orc.value(1) if group.orc else "NW") or ""
        action = ORDER_CONTROL.get(control.upper())
        if action is None:
            raise MessageInvalid(ErrorCode.TABLE_VALUE_NOT_FOUND, f"ORC-1 order control {control!r} is not supported", group.orc.location(1))
        if action == "place":
            commands.append(_place(context, group, patient_id, ids))
        elif action == "cancel":
            commands.append(context.command(
                CancelOrder, "cancel-order", _order_time(context, group),
                patient_id=patient_id, order_id=ids[0], reason=group.orc.value(16),
            ))
        else:
            status = action
            if action == "status":
                code = (group.orc.value(5) or "").upper()
                status = ORDER_STATUS.get(code)
                if status is None:
                    raise MessageInvalid(ErrorCode.TABLE_VALUE_NOT_FOUND, f"ORC-5 order status {code!r} is not supported", group.orc.location(5))
            commands.append(context.command(
                ChangeOrderStatus, "order-status", _order_time(context, group),
                patient_id=patient_id, order_id=ids[0], status=status, hl7_order_control=control.upper(),
            ))
    return commands
