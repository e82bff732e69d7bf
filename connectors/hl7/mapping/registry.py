"""The table of accepted message types and their mappers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from heals.commands.models import Command
from heals.connectors.devices.pcd01 import DeviceReport, is_device_report, read_device_report
from heals.connectors.hl7.errors import ErrorCode, Issue, MessageInvalid, MessageRejected
from heals.connectors.hl7.mapping.adt import ADT_TRIGGERS, map_adt
from heals.connectors.hl7.mapping.charges import map_charges
from heals.connectors.hl7.mapping.context import MappingContext
from heals.connectors.hl7.mapping.orders import map_order
from heals.connectors.hl7.mapping.results import map_result
from heals.connectors.hl7.message import Message

__all__ = ["MappedMessage", "SUPPORTED_VERSIONS", "MESSAGE_TYPES", "map_message"]

# MSH-12.1 values this listener reads.
SUPPORTED_VERSIONS = frozenset({
    "2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2", "2.9",
})


@dataclass
class MappedMessage:
    """The result of mapping one message: commands for the write side and device readings for Kafka."""

    commands: list[Command] = field(default_factory=list)
    device_report: DeviceReport | None = None
    warnings: list[Issue] = field(default_factory=list)


def _commands(mapper: Callable[[MappingContext], list[Command]]) -> Callable[[MappingContext], MappedMessage]:
    def run(context: MappingContext) -> MappedMessage:
        return MappedMessage(commands=mapper(context))
    return run


def _observations(context: MappingContext) -> MappedMessage:
    # ORU^R01 from a device gateway carries readings; from a laboratory, results.
    if not is_device_report(context.message):
        return MappedMessage(commands=map_result(context))
    pid = context.message.first("PID")
    patient_id = None
    if pid is not None and context.identifiers(pid, 3):
        patient_id, _ = context.patient_key(pid)
    encounter_id = context.encounter_id(context.message.first("PV1"), patient_id or "", required=False)
    return MappedMessage(device_report=read_device_report(context.message, patient_id, encounter_id))


# (MSH-9.1, MSH-9.2) -> mapper. ADT rows come from the ADT trigger table. An
# ORU without a trigger event is read as R01, the only unsolicited
# observation message before v2.5.
MESSAGE_TYPES: dict[tuple[str, str], Callable[[MappingContext], MappedMessage]] = {
    **{("ADT", trigger): _commands(map_adt) for trigger in ADT_TRIGGERS},
    ("ORM", "O01"): _commands(map_order),
    ("OML", "O21"): _commands(map_order),
    ("ORU", "R01"): _observations,
    ("ORU", ""): _observations,
    ("DFT", "P03"): _commands(map_charges),
}


def check_supported(message: Message) -> None:
    """Raise MessageRejected when the version or the message type is not supported."""
    if message.version not in SUPPORTED_VERSIONS:
        raise MessageRejected(
            ErrorCode.UNSUPPORTED_VERSION_ID, f"MSH-12 version id {message.version!r} is not supported",
            message.msh.location(12),
        )
    key = (message.message_code, message.trigger_event)
    if key not in MESSAGE_TYPES:
        known_codes = {code for code, _ in MESSAGE_TYPES}
        code = ErrorCode.UNSUPPORTED_EVENT_CODE if message.message_code in known_codes else ErrorCode.UNSUPPORTED_MESSAGE_TYPE
        raise MessageRejected(
            code, f"message type {message.message_code}^{message.trigger_event} is not supported",
            message.msh.location(9),
        )


def map_message(message: Message, tenant_id: str, assigning_authority: str | None = None) -> MappedMessage:
    """Map one parsed message; raise MessageRejected (AR) or MessageInvalid (AE)."""
    check_supported(message)
    context = MappingContext(message, tenant_id, assigning_authority)
    mapped = MESSAGE_TYPES[(message.message_code, message.trigger_event)](context)
    mapped.warnings.extend(context.warnings)
    return mapped
