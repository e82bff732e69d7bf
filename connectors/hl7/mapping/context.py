"""The mapping context every mapper shares: ids, the patient key from PID-3, event time, warnings."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

from heals.commands.models import Command, CommandSource, Identifier, Location
from heals.connectors.hl7.errors import ErrorCode, Issue, MessageInvalid
from heals.connectors.hl7.message import Message, Segment
from heals.connectors.hl7.timestamps import Timestamp

__all__ = ["MappingContext", "PATIENT_ID_TYPES"]

logger = logging.getLogger(__name__)

# PID-3 identifier type codes (HL7 table 0203) tried in this order when no MR
# identifier is present: patient internal, patient external, person number.
PATIENT_ID_TYPES = ("MR", "PK", "PI", "PT", "PN")


@dataclass
class MappingContext:
    """One message being mapped: its ids, the settings that shape the mapping, warnings found."""

    message: Message
    tenant_id: str
    assigning_authority: str | None = None
    warnings: list[Issue] = field(default_factory=list)
    _sequence: int = 0

    # -- ids ----------------------------------------------------------------

    @property
    def base_id(self) -> str:
        """sending application|sending facility|MSH-10, the idempotency key of the message."""
        m = self.message
        return f"{m.sending_application}|{m.sending_facility}|{m.control_id}"

    def next_command_id(self, suffix: str) -> str:
        """Return the next command id of this message: base id, position and what the command is."""
        self._sequence += 1
        return f"{self.base_id}#{self._sequence}:{suffix}"

    @property
    def source(self) -> CommandSource:
        """The command source: MSH-3 namespace, MSH-9 and MSH-10."""
        m = self.message
        system = m.msh.value(3, 1) or m.msh.value(3, 2) or m.sending_application or "unknown"
        return CommandSource(system=system, message_type=m.message_type, message_control_id=m.control_id)

    def command(self, model: type[Command], suffix: str, occurred: Timestamp, **fields: Any) -> Command:
        """Build a command with the shared fields filled in."""
        return model(
            command_id=self.next_command_id(suffix),
            tenant_id=self.tenant_id,
            occurred_at=occurred.value,
            occurred_at_offset_minutes=occurred.offset_minutes,
            source=self.source,
            correlation_id=self.base_id,
            **fields,
        )

    def warn(self, code: str, text: str, segment: Segment | None = None, number: int | None = None) -> None:
        """Record a warning that goes into the ACK as an ERR segment of severity W."""
        location = segment.location(number) if segment is not None else None
        self.warnings.append(Issue(code, text, location, severity="W"))

    # -- time ---------------------------------------------------------------

    def checked_timestamp(self, segment: Segment | None, number: int) -> Timestamp | None:
        """Parse a DTM that is informational: an invalid value becomes a warning and None."""
        try:
            return self.message.timestamp(segment, number)
        except MessageInvalid as exc:
            self.warnings.append(Issue(exc.code, exc.issue.text, exc.issue.location, severity="W"))
            return None

    def event_time(self, candidates: Sequence[tuple[str, int]]) -> Timestamp:
        """Return the first valid timestamp among (segment, field) candidates, else MSH-7.

        An invalid candidate is an error, not a reason to fall through to a
        less precise time: the event would be dated wrongly.
        """
        for name, number in candidates:
            value = self.message.timestamp(self.message.first(name), number)
            if value is not None:
                return value
        value = self.message.timestamp(self.message.msh, 7)
        if value is None:
            raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "MSH-7 date/time of message is empty", self.message.msh.location(7))
        return value

    def now(self) -> dt.datetime:
        """Return the current time in UTC."""
        return dt.datetime.now(dt.timezone.utc)

    # -- patients, visits, locations ------------------------------------------

    def identifiers(self, segment: Segment, number: int) -> list[Identifier]:
        """Return every CX repetition of a field that has an id (CX-1), skipping empty ones."""
        found = []
        for index, _ in enumerate(segment.repetitions(number), start=1):
            value = segment.value(number, 1, index)
            if value is None:
                continue
            if value != value.strip():
                logger.debug("%s-%s repetition %s id has surrounding spaces; they are removed", segment.name, number, index)
            type_code = segment.value(number, 5, index)
            if type_code is not None and type_code != type_code.strip():
                logger.debug("%s-%s repetition %s type code has surrounding spaces", segment.name, number, index)
                type_code = type_code.strip()
            authority = segment.value(number, 4, index) or segment.value(number, 4, index, subcomponent=2)
            found.append(Identifier(value=value.strip(), assigning_authority=authority, type_code=type_code or None))
        return found

    def patient_key(self, segment: Segment, number: int = 3) -> tuple[str, list[Identifier]]:
        """Return the canonical patient id from a CX list (PID-3, MRG-1) and all identifiers.

        The MR identifier of the configured assigning authority wins. Without
        that setting any MR identifier wins, then the other patient id types in
        PATIENT_ID_TYPES in order, then the first identifier.
        """
        identifiers = self.identifiers(segment, number)
        if not identifiers:
            raise MessageInvalid(
                ErrorCode.REQUIRED_FIELD_MISSING, f"{segment.name}-{number} contains no patient identifier", segment.location(number)
            )
        if self.assigning_authority:
            for identifier in identifiers:
                if identifier.type_code == "MR" and identifier.assigning_authority == self.assigning_authority:
                    return identifier.value, identifiers
            raise MessageInvalid(
                ErrorCode.UNKNOWN_KEY_IDENTIFIER,
                f"{segment.name}-{number} has no MR identifier of assigning authority {self.assigning_authority!r}",
                segment.location(number),
            )
        for type_code in PATIENT_ID_TYPES:
            for identifier in identifiers:
                if identifier.type_code == type_code:
                    return identifier.value, identifiers
        return identifiers[0].value, identifiers

    def encounter_id(self, pv1: Segment | None, patient_id: str, required: bool) -> str | None:
        """Return the visit id: PV1-19 visit number, else (when required) the patient and the visit's start.

        The start is PV1-44 admit date/time, else EVN-6 or EVN-2, as written,
        so a resend of the same visit under a new MSH-10 names the same
        encounter. Without any of them the message's own id is used.
        """
        if pv1 is not None:
            visit = pv1.value(19, 1)
            if visit is not None:
                return visit.strip()
        if not required:
            return None
        evn = self.message.first("EVN")
        candidates = [(pv1, 44), (evn, 6), (evn, 2)]
        for segment, number in candidates:
            start = segment.value(number, 1) if segment is not None else None
            if start:
                return f"{patient_id}|{start.strip()}"
        return self.base_id

    def location(self, segment: Segment | None, number: int) -> Location | None:
        """Return a PL field (PV1-3, PV1-6) as a bed location; None when empty."""
        if segment is None or not segment.raw(number) or segment.is_null(number):
            return None
        location = Location(
            ward=segment.value(number, 1),
            room=segment.value(number, 2),
            bed=segment.value(number, 3),
            facility=segment.value(number, 4),
        )
        return location if any(location.model_dump().values()) else None

    def require(self, name: str) -> Segment:
        """Return the first segment with this id; raise MessageInvalid when it is missing."""
        segment = self.message.first(name)
        if segment is None:
            raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, f"required segment {name} missing")
        return segment
