"""Errors of the HL7 connector, each carrying what its ACK needs.

    HealsError
    └── Hl7Error                  an inbound message cannot be accepted as sent
        ├── MessageRejected       AR: no usable MSH, unparseable, unsupported type or version
        └── MessageInvalid        AE: parsed, but a field or segment breaks a rule

Every error carries an HL7 table 0357 code, the location (segment, sequence,
field, component) and a text that names fields, never their values, so the
text can go into an ERR segment and a log line.
"""

from __future__ import annotations

from dataclasses import dataclass

from heals.errors import HealsError

__all__ = [
    "ErrorCode", "ErrorLocation", "Hl7Error", "Issue", "MessageInvalid", "MessageRejected",
]


class ErrorCode:
    """HL7 table 0357, message error condition codes."""

    ACCEPTED = "0"
    SEGMENT_SEQUENCE = "100"
    REQUIRED_FIELD_MISSING = "101"
    DATA_TYPE = "102"
    TABLE_VALUE_NOT_FOUND = "103"
    UNSUPPORTED_MESSAGE_TYPE = "200"
    UNSUPPORTED_EVENT_CODE = "201"
    UNSUPPORTED_PROCESSING_ID = "202"
    UNSUPPORTED_VERSION_ID = "203"
    UNKNOWN_KEY_IDENTIFIER = "204"
    DUPLICATE_KEY_IDENTIFIER = "205"
    APPLICATION_RECORD_LOCKED = "206"
    APPLICATION_INTERNAL_ERROR = "207"

    TEXT = {
        "0": "Message accepted",
        "100": "Segment sequence error",
        "101": "Required field missing",
        "102": "Data type error",
        "103": "Table value not found",
        "200": "Unsupported message type",
        "201": "Unsupported event code",
        "202": "Unsupported processing id",
        "203": "Unsupported version id",
        "204": "Unknown key identifier",
        "205": "Duplicate key identifier",
        "206": "Application record locked",
        "207": "Application internal error",
    }


@dataclass(frozen=True)
class ErrorLocation:
    """Where an error sits: segment id, segment sequence (1-based), field, component."""

    segment: str
    sequence: int = 1
    field: int | None = None
    component: int | None = None

    def __str__(self) -> str:
        text = f"{self.segment}-{self.field}" if self.field is not None else self.segment
        if self.component is not None:
            text += f".{self.component}"
        return text


@dataclass(frozen=True)
class Issue:
    """One ERR segment's worth: code, location, severity (E error, W warning, I information) and text."""

    code: str
    text: str
    location: ErrorLocation | None = None
    severity: str = "E"


class Hl7Error(HealsError):
    """An inbound message that cannot be accepted as it was sent."""

    ack_kind = "AE"

    def __init__(self, code: str, text: str, location: ErrorLocation | None = None) -> None:
        where = f" at {location}" if location else ""
        super().__init__(f"{text}{where} (HL7 error {code})")
        self.issue = Issue(code, text, location)

    @property
    def code(self) -> str:
        """The HL7 table 0357 code."""
        return self.issue.code


class MessageRejected(Hl7Error):
    """The message cannot be processed at all: answered AR (or CR in enhanced mode)."""

    ack_kind = "AR"


class MessageInvalid(Hl7Error):
    """The message was read but breaks a rule: answered AE (or CE in enhanced mode)."""

    ack_kind = "AE"
