"""From frame bytes to message text: delimiters, character set, segment terminators.

What python-hl7 assumes and this module checks first:

- A UTF-8 byte-order mark before MSH is removed.
- MSH-1 is the field separator and MSH-2 holds four distinct encoding
  characters, plus from v2.7 on an optional fifth, the truncation character,
  which is never a delimiter. Anything else is rejected, never guessed.
- MSH-18 names the character set; the bytes are decoded strictly in it, so a
  byte that does not belong to it rejects the message rather than turning
  into U+FFFD.
- Segments end with CR; LF and CR LF are accepted too and counted.
- Every segment id is three characters, a capital letter then capitals or
  digits, so text wrapped across lines or pasted from a document is
  rejected at the first bad segment.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass

from heals.connectors.hl7.errors import ErrorCode, ErrorLocation, MessageRejected
from heals.connectors.hl7.escapes import Separators

__all__ = ["DecodedText", "HeaderPeek", "decode_message", "peek_header", "UTF8_BOM", "charset_codec"]

logger = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"
HEADER_SEGMENTS = (b"MSH", b"BHS", b"FHS")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")

# MSH-18 value (HL7 table 0211) -> Python codec. An empty MSH-18 means the
# HL7 default, ASCII; UTF-8 is read in that case too because it is a superset
# and many senders write UTF-8 without saying so.
CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "iso8859-1",
    "ISO IR100": "iso8859-1",
    "8859/2": "iso8859-2",
    "8859/3": "iso8859-3",
    "8859/4": "iso8859-4",
    "8859/5": "iso8859-5",
    "8859/6": "iso8859-6",
    "8859/7": "iso8859-7",
    "8859/8": "iso8859-8",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
    "ISO IR192": "utf-8",
    "UNICODE UTF-16": "utf-16",
    "UNICODE UTF-32": "utf-32",
}


@dataclass(frozen=True)
class HeaderPeek:
    """MSH fields read from raw bytes, for ACKs and logs when the message cannot be parsed."""

    field_separator: str = "|"
    sending_application: str | None = None
    sending_facility: str | None = None
    receiving_application: str | None = None
    receiving_facility: str | None = None
    message_type: str | None = None
    control_id: str | None = None
    processing_id: str | None = None
    version: str | None = None
    charset: str | None = None
    accept_ack_type: str | None = None
    application_ack_type: str | None = None


@dataclass(frozen=True)
class DecodedText:
    """A message as text with CR segment terminators, and how it was written."""

    text: str
    separators: Separators
    charset: str
    segment_terminator: str


def _first_line(raw: bytes) -> bytes:
    ends = [index for index in (raw.find(b"\r"), raw.find(b"\n")) if index >= 0]
    return raw[: min(ends)] if ends else raw


def _text(value: bytes) -> str:
    # Only for echoing header ids: strict UTF-8, else Latin-1, which never fails.
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("iso8859-1")


def peek_header(raw: bytes) -> HeaderPeek:
    """Read MSH (or BHS/FHS) fields from raw bytes without trusting MSH-2."""
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]
    line = _first_line(raw)
    if line[:3] not in HEADER_SEGMENTS or len(line) < 4:
        return HeaderPeek()
    separator = line[3:4]
    fields = line.split(separator)

    def field(number: int, first_component: bool = False) -> str | None:
        # fields[0] is the segment id and MSH-1 is the separator itself, so MSH-n is fields[n - 1].
        if len(fields) < number:
            return None
        value = _text(fields[number - 1])
        if first_component and len(fields) > 1 and fields[1][:1]:
            value = value.split(_text(fields[1][:1]))[0]
        return value or None

    return HeaderPeek(
        field_separator=_text(separator),
        sending_application=field(3),
        sending_facility=field(4),
        receiving_application=field(5),
        receiving_facility=field(6),
        message_type=field(9),
        control_id=field(10),
        processing_id=field(11, first_component=True),
        version=field(12, first_component=True),
        charset=field(18, first_component=True),
        accept_ack_type=field(15),
        application_ack_type=field(16),
    )


def read_separators(raw: bytes) -> Separators:
    """Read MSH-1 and MSH-2 (or BHS/FHS) and check them; raise MessageRejected when unusable."""
    location = ErrorLocation("MSH", 1, 2)
    line = _first_line(raw)
    if line[:3] not in HEADER_SEGMENTS:
        raise MessageRejected(
            ErrorCode.SEGMENT_SEQUENCE, "message does not start with an MSH, BHS or FHS segment",
            ErrorLocation("MSH"),
        )
    if len(line) < 8:
        raise MessageRejected(ErrorCode.DATA_TYPE, "MSH is too short to hold MSH-1 and MSH-2", location)
    field_separator = line[3:4]
    end = line.find(field_separator, 4)
    encoding = line[4:] if end < 0 else line[4:end]
    characters = field_separator + encoding

    if not all(0x21 <= byte <= 0x7E and not chr(byte).isalnum() for byte in characters):
        raise MessageRejected(
            ErrorCode.DATA_TYPE,
            "MSH-1 and MSH-2 must be printable ASCII punctuation; the encoding characters are damaged",
            location,
        )
    if len(encoding) not in (4, 5):
        raise MessageRejected(
            ErrorCode.DATA_TYPE,
            f"MSH-2 has {len(encoding)} encoding characters; it needs 4 (5 with the v2.7 truncation character)",
            location,
        )
    if len(set(characters)) != len(characters):
        raise MessageRejected(ErrorCode.DATA_TYPE, "MSH-1 and MSH-2 repeat a delimiter", location)

    text = characters.decode("ascii")
    return Separators(
        field=text[0], component=text[1], repetition=text[2], escape=text[3], subcomponent=text[4],
        truncation=text[5] if len(text) == 6 else None,
    )


def charset_codec(msh18: str | None) -> str:
    """Return the Python codec for an MSH-18 value; raise MessageRejected when unknown."""
    name = (msh18 or "").strip().upper()
    codec = CHARSETS.get(name)
    if codec is None:
        raise MessageRejected(
            ErrorCode.TABLE_VALUE_NOT_FOUND,
            f"MSH-18 character set {msh18!r} is not supported; use one of {sorted(k for k in CHARSETS if k)}",
            ErrorLocation("MSH", 1, 18),
        )
    return codecs.lookup(codec).name


def decode_message(raw: bytes) -> DecodedText:
    """Decode one message's bytes to text with CR terminators; raise MessageRejected when unusable."""
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]
    separators = read_separators(raw)
    charset = charset_codec(peek_header(raw).charset)

    try:
        text = raw.decode(charset)
    except UnicodeDecodeError as exc:
        raise MessageRejected(
            ErrorCode.DATA_TYPE,
            f"byte {exc.start} ({raw[exc.start:exc.start + 1].hex()}) is not valid {charset} as MSH-18 declares",
        ) from exc

    terminator = "\r"
    if "\n" in text:
        terminator = "\r\n" if "\r\n" in text else "\n"
        text = text.replace("\r\n", "\r").replace("\n", "\r")
        logger.debug("message uses %r segment terminators; read as CR", terminator)

    segments = [segment for segment in text.split("\r") if segment.strip()]
    for index, segment in enumerate(segments):
        name = segment[:3]
        if not _SEGMENT_ID.fullmatch(name) or (len(segment) > 3 and segment[3] != separators.field):
            raise MessageRejected(
                ErrorCode.SEGMENT_SEQUENCE,
                f"segment {index + 1} does not start with a segment id and field separator",
                ErrorLocation(name if _SEGMENT_ID.fullmatch(name) else "MSH", index + 1),
            )
    return DecodedText("\r".join(segments), separators, charset, terminator)
