"""Batch and file envelopes: FHS [BHS MSH... BTS]... FTS, split into messages.

BTS-1 gives the number of messages in its batch and FTS-1 the number of
batches in the file; both are checked before any message is handled, so a
damaged envelope creates nothing. Splitting works on bytes, because each
message names its own character set in its MSH-18.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from heals.connectors.hl7.decoding import UTF8_BOM, read_separators
from heals.connectors.hl7.errors import ErrorCode, ErrorLocation, MessageRejected

__all__ = ["Batch", "Envelope", "is_envelope", "split_envelope"]

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass
class Batch:
    """One BHS...BTS batch: its header line and the bytes of each message."""

    header: bytes | None
    messages: list[bytes] = field(default_factory=list)
    trailer: bytes | None = None


@dataclass
class Envelope:
    """A batch or file: header lines and batches in order."""

    file_header: bytes | None
    batches: list[Batch]
    file_trailer: bytes | None = None

    @property
    def messages(self) -> list[bytes]:
        """Every message of every batch, in order."""
        return [message for batch in self.batches for message in batch.messages]

    @property
    def header(self) -> bytes:
        """The outermost header line (FHS or BHS)."""
        return self.file_header or self.batches[0].header or b""


def is_envelope(raw: bytes) -> bool:
    """True when the frame holds a batch or file rather than a single message."""
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]
    return raw[:3] in (b"FHS", b"BHS")


def _count(line: bytes, separator: bytes, name: str, sequence: int) -> int | None:
    fields = line.split(separator)
    text = fields[1].strip() if len(fields) > 1 else b""
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise MessageRejected(ErrorCode.DATA_TYPE, f"{name}-1 count is not a number", ErrorLocation(name, sequence, 1))
    return int(text)


def split_envelope(raw: bytes) -> Envelope:
    """Split a batch or file into messages; raise MessageRejected when the envelope is damaged."""
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]
    separator = read_separators(raw).field.encode("ascii")
    envelope = Envelope(None, [])
    batch: Batch | None = None

    for number, line in enumerate(_LINE_END.split(raw), start=1):
        if not line.strip():
            continue
        name = line[:3]
        if name == b"FHS":
            if envelope.file_header is not None or envelope.batches:
                raise MessageRejected(ErrorCode.SEGMENT_SEQUENCE, "a file cannot have more than one FHS", ErrorLocation("FHS", 2))
            envelope.file_header = line
        elif name == b"BHS":
            if batch is not None:
                raise MessageRejected(
                    ErrorCode.SEGMENT_SEQUENCE, "a batch cannot have more than one BHS; BHS found before BTS",
                    ErrorLocation("BHS", len(envelope.batches) + 1),
                )
            batch = Batch(line)
            envelope.batches.append(batch)
        elif name == b"BTS":
            if batch is None:
                raise MessageRejected(ErrorCode.SEGMENT_SEQUENCE, "BTS without BHS", ErrorLocation("BTS"))
            batch.trailer = line
            batch = None
        elif name == b"FTS":
            envelope.file_trailer = line
        elif name == b"MSH":
            if batch is None:
                # Messages outside BHS/BTS belong to one implicit batch.
                batch = Batch(None)
                envelope.batches.append(batch)
            batch.messages.append(line)
        else:
            if batch is None or not batch.messages:
                raise MessageRejected(
                    ErrorCode.SEGMENT_SEQUENCE, f"segment on line {number} comes before any MSH", ErrorLocation("MSH"),
                )
            batch.messages[-1] += b"\r" + line

    _check_counts(envelope, separator)
    return envelope


def _check_counts(envelope: Envelope, separator: bytes) -> None:
    for sequence, batch in enumerate(envelope.batches, start=1):
        if batch.header is not None and batch.trailer is None:
            raise MessageRejected(ErrorCode.SEGMENT_SEQUENCE, "batch has no BTS trailer", ErrorLocation("BTS", sequence))
        if batch.trailer is not None:
            expected = _count(batch.trailer, separator, "BTS", sequence)
            if expected is not None and expected != len(batch.messages):
                raise MessageRejected(
                    ErrorCode.SEGMENT_SEQUENCE,
                    f"BTS-1 says {expected} messages but batch {sequence} holds {len(batch.messages)}",
                    ErrorLocation("BTS", sequence, 1),
                )
    if envelope.file_trailer is not None:
        expected = _count(envelope.file_trailer, separator, "FTS", 1)
        if expected is not None and expected != len(envelope.batches):
            raise MessageRejected(
                ErrorCode.SEGMENT_SEQUENCE,
                f"FTS-1 says {expected} batches but the file holds {len(envelope.batches)}",
                ErrorLocation("FTS", 1, 1),
            )
    elif envelope.file_header is not None:
        raise MessageRejected(ErrorCode.SEGMENT_SEQUENCE, "file has no FTS trailer", ErrorLocation("FTS"))
    if not envelope.messages:
        raise MessageRejected(ErrorCode.SEGMENT_SEQUENCE, "batch holds no message", ErrorLocation("MSH"))
