"""A parsed HL7 v2 message: python-hl7's tree plus field access by HL7 position.

python-hl7 splits the text by the delimiters that decoding.py checked. Field
values here are unescaped; a field written as "" (two double quotes) is an
explicit null, which means the receiver clears the stored value, while an
empty field means "no change". Segment and field numbers are HL7's own:
PID-3 is segment "PID", field 3, and MSH-10 is field 10 of MSH.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterator

import hl7
from hl7.exceptions import ParseException

from heals.connectors.hl7.decoding import DecodedText, decode_message
from heals.connectors.hl7.errors import ErrorCode, ErrorLocation, MessageInvalid, MessageRejected
from heals.connectors.hl7.escapes import Separators, unescape
from heals.connectors.hl7.timestamps import InvalidTimestamp, Timestamp, parse_dtm

__all__ = ["Message", "Segment", "parse_message", "EXPLICIT_NULL"]

logger = logging.getLogger(__name__)

EXPLICIT_NULL = '""'


@dataclass
class Segment:
    """One segment: its id, its position among segments of that id, and its raw fields."""

    name: str
    sequence: int
    fields: list[str]
    separators: Separators
    charset: str

    def raw(self, number: int) -> str:
        """Return field `number` as written, escape sequences included; '' when absent."""
        return self.fields[number] if 0 < number < len(self.fields) else ""

    def is_null(self, number: int) -> bool:
        """True when the field is the explicit null "" that clears a stored value."""
        return self.raw(number) == EXPLICIT_NULL

    def repetitions(self, number: int) -> list[str]:
        """Return the raw repetitions of a field, empty ones included."""
        raw = self.raw(number)
        if not raw:
            return []
        return raw.split(self.separators.repetition)

    def components(self, number: int, repetition: int = 1) -> list[str]:
        """Return the raw components of one repetition of a field."""
        repetitions = self.repetitions(number)
        if len(repetitions) < repetition:
            return []
        return repetitions[repetition - 1].split(self.separators.component)

    def value(self, number: int, component: int = 1, repetition: int = 1, subcomponent: int | None = 1) -> str | None:
        """Return one unescaped component (first subcomponent by default); None when empty or ""."""
        components = self.components(number, repetition)
        if len(components) < component:
            return None
        return self.text(components[component - 1], subcomponent)

    def text(self, raw: str, subcomponent: int | None = 1) -> str | None:
        """Unescape a raw component, optionally picking one subcomponent; None when empty or ""."""
        if subcomponent is not None:
            parts = raw.split(self.separators.subcomponent)
            raw = parts[subcomponent - 1] if len(parts) >= subcomponent else ""
        if raw in ("", EXPLICIT_NULL):
            return None
        return unescape(raw, self.separators, self.charset)

    def location(self, number: int | None = None, component: int | None = None) -> ErrorLocation:
        """Return the ERR location of this segment or one of its fields."""
        return ErrorLocation(self.name, self.sequence, number, component)


@dataclass
class Message:
    """One HL7 v2 message, parsed, with its header fields named."""

    segments: list[Segment]
    decoded: DecodedText
    tree: hl7.Message = field(repr=False)
    sender_time_zone: str = "UTC"

    @property
    def separators(self) -> Separators:
        """The message's delimiters."""
        return self.decoded.separators

    @property
    def msh(self) -> Segment:
        """The MSH segment."""
        return self.segments[0]

    def all(self, name: str) -> list[Segment]:
        """Return every segment with this id, in order."""
        return [segment for segment in self.segments if segment.name == name]

    def first(self, name: str) -> Segment | None:
        """Return the first segment with this id, or None."""
        return next((segment for segment in self.segments if segment.name == name), None)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    # -- header -------------------------------------------------------------

    @property
    def sending_application(self) -> str:
        """MSH-3 as written."""
        return self.msh.raw(3)

    @property
    def sending_facility(self) -> str:
        """MSH-4 as written."""
        return self.msh.raw(4)

    @property
    def control_id(self) -> str:
        """MSH-10, the message control id."""
        return self.msh.value(10, subcomponent=None) or ""

    @property
    def message_code(self) -> str:
        """MSH-9.1, for example ADT."""
        return (self.msh.value(9, 1) or "").upper()

    @property
    def trigger_event(self) -> str:
        """MSH-9.2, for example A01; '' when the sender wrote none."""
        return (self.msh.value(9, 2) or "").upper()

    @property
    def message_type(self) -> str:
        """MSH-9 as written."""
        return self.msh.raw(9)

    @property
    def version(self) -> str:
        """MSH-12.1, the version id, for example 2.5.1."""
        return (self.msh.value(12, 1) or "").strip()

    @property
    def processing_id(self) -> str:
        """MSH-11.1: P production, T training, D debugging."""
        return self.msh.value(11, 1) or ""

    @property
    def accept_ack_type(self) -> str:
        """MSH-15: AL, NE, ER or SU; '' in original mode."""
        return (self.msh.value(15) or "").upper()

    @property
    def application_ack_type(self) -> str:
        """MSH-16: AL, NE, ER or SU; '' in original mode."""
        return (self.msh.value(16) or "").upper()

    @property
    def enhanced_mode(self) -> bool:
        """True when MSH-15 or MSH-16 is set, which selects enhanced-mode acknowledgment."""
        return bool(self.accept_ack_type or self.application_ack_type)

    def timestamp(self, segment: Segment | None, number: int) -> Timestamp | None:
        """Parse a DTM field; None when empty; raise MessageInvalid when it is not a valid time."""
        if segment is None:
            return None
        text = segment.value(number, 1)
        if text is None:
            return None
        try:
            return parse_dtm(text.strip(), self.sender_time_zone)
        except InvalidTimestamp as exc:
            raise MessageInvalid(
                ErrorCode.DATA_TYPE, f"{segment.name}-{number} is not a valid date/time: {exc.reason}", segment.location(number)
            ) from exc


def _segments_of(tree: hl7.Message, decoded: DecodedText) -> list[Segment]:
    counts: dict[str, int] = {}
    segments = []
    for node in tree:
        fields = [str(item) for item in node]
        name = fields[0]
        counts[name] = counts.get(name, 0) + 1
        segments.append(Segment(name, counts[name], fields, decoded.separators, decoded.charset))
    return segments


def parse_message(raw: bytes, sender_time_zone: str = "UTC") -> Message:
    """Parse the bytes of one message (not a batch); raise MessageRejected when unusable."""
    decoded = decode_message(raw)
    if not decoded.text.startswith("MSH"):
        raise MessageRejected(ErrorCode.SEGMENT_SEQUENCE, "a message must start with MSH", ErrorLocation("MSH"))
    try:
        tree = hl7.parse(decoded.text)
    except (ParseException, IndexError, ValueError) as exc:
        raise MessageRejected(ErrorCode.SEGMENT_SEQUENCE, f"cannot parse message: {type(exc).__name__}") from exc

    segments = _segments_of(tree, decoded)
    nested = next((s for s in segments[1:] if s.name in ("MSH", "BHS", "FHS", "BTS", "FTS")), None)
    if nested is not None:
        raise MessageRejected(
            ErrorCode.SEGMENT_SEQUENCE,
            f"{nested.name} inside a message; a message has one MSH and batch segments enclose messages",
            nested.location(),
        )
    message = Message(segments, decoded, tree, sender_time_zone)
    if not message.control_id:
        raise MessageRejected(ErrorCode.REQUIRED_FIELD_MISSING, "MSH-10 message control id is empty", message.msh.location(10))
    if not message.message_code:
        raise MessageRejected(ErrorCode.REQUIRED_FIELD_MISSING, "MSH-9 message type is empty", message.msh.location(9))
    return message
