"""Order groups: the ORC, OBR and the segments that belong to them, per patient."""

from __future__ import annotations

from dataclasses import dataclass, field

from heals.commands.models import Code
from heals.connectors.hl7.message import Message, Segment

__all__ = ["OrderGroup", "order_groups", "coded", "order_id"]

# Segments that attach to the current order group rather than starting one.
ORDER_DETAIL_SEGMENTS = {"OBX", "NTE", "SPM", "TQ1", "TQ2", "CTD", "FT1", "BLG", "DG1", "SAC", "PRT", "CTI"}


@dataclass
class OrderGroup:
    """One order within a message: its ORC, OBR, detail segments and the PID/PV1 it belongs to."""

    pid: Segment | None
    pv1: Segment | None
    orc: Segment | None = None
    obr: Segment | None = None
    details: list[Segment] = field(default_factory=list)

    def all(self, name: str) -> list[Segment]:
        """Return the group's detail segments with this id."""
        return [segment for segment in self.details if segment.name == name]


def order_groups(message: Message) -> list[OrderGroup]:
    """Split a message into order groups; an ORC or an OBR not preceded by its ORC starts a group."""
    groups: list[OrderGroup] = []
    pid = pv1 = None
    current: OrderGroup | None = None
    for segment in message:
        if segment.name == "PID":
            pid, pv1, current = segment, None, None
        elif segment.name == "PV1":
            pv1 = segment
            if current is not None and current.pv1 is None:
                current.pv1 = segment
        elif segment.name == "ORC":
            current = OrderGroup(pid, pv1, orc=segment)
            groups.append(current)
        elif segment.name == "OBR":
            if current is None or current.obr is not None:
                current = OrderGroup(pid, pv1)
                groups.append(current)
            current.obr = segment
        elif segment.name in ORDER_DETAIL_SEGMENTS and current is not None:
            current.details.append(segment)
    return groups


def coded(segment: Segment, number: int, repetition: int = 1) -> Code | None:
    """Return a CE/CWE field as a Code: identifier, coding system, text."""
    code = segment.value(number, 1, repetition)
    if code is None:
        return None
    return Code(code=code.strip(), display=segment.value(number, 2, repetition), system=segment.value(number, 3, repetition))


def _entity(segment: Segment | None, number: int) -> str | None:
    if segment is None:
        return None
    entity = segment.value(number, 1)
    if entity is None:
        return None
    namespace = segment.value(number, 2)
    return f"{entity}^{namespace}" if namespace else entity


def order_id(group: OrderGroup) -> tuple[str | None, str | None, str | None]:
    """Return (order id, placer order number, filler order number) from ORC-2/3 or OBR-2/3.

    The placer order number identifies the order across placer and filler, so
    it is the order id; a filler-only order (an unsolicited result) uses the
    filler order number.
    """
    placer = _entity(group.orc, 2) or _entity(group.obr, 2)
    filler = _entity(group.orc, 3) or _entity(group.obr, 3)
    return placer or filler, placer, filler
