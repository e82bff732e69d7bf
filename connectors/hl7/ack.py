"""ACK messages: original mode (AA, AE, AR) and enhanced mode (CA, CE, CR).

The ACK goes back in the sender's own delimiters and character set, swaps
sending and receiving application and facility, echoes MSH-10 in MSA-2 and
lists each problem in an ERR segment. From v2.5 on ERR carries the location in
ERR-2, the table 0357 code in ERR-3 and the severity in ERR-4; earlier
versions put all of that into ERR-1.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from dataclasses import dataclass
from typing import Sequence

from heals.connectors.hl7.decoding import HeaderPeek
from heals.connectors.hl7.errors import ErrorCode, Issue
from heals.connectors.hl7.escapes import DEFAULT_SEPARATORS, Separators, escape

__all__ = ["AckHeader", "build_ack", "ack_code", "reply_code", "Outcome"]

RECEIVING_APPLICATION = "HEALS"
_counter = itertools.count(1)


class Outcome:
    """The outcome of a message, before it is written as an original or enhanced mode code."""

    ACCEPTED = "accepted"
    ERROR = "error"
    REJECTED = "rejected"


# (outcome, enhanced mode) -> MSA-1 acknowledgment code, HL7 table 0008.
ACK_CODES = {
    (Outcome.ACCEPTED, False): "AA",
    (Outcome.ERROR, False): "AE",
    (Outcome.REJECTED, False): "AR",
    (Outcome.ACCEPTED, True): "CA",
    (Outcome.ERROR, True): "CE",
    (Outcome.REJECTED, True): "CR",
}


def ack_code(outcome: str, enhanced: bool) -> str:
    """Return the MSA-1 code for an outcome in original or enhanced mode."""
    return ACK_CODES[(outcome, enhanced)]


def _asks(condition: str, outcome: str) -> bool:
    # HL7 table 0155: AL always, NE never, ER only on error, SU only on success.
    return condition == "AL" or (condition == "ER" and outcome != Outcome.ACCEPTED) or (
        condition == "SU" and outcome == Outcome.ACCEPTED
    )


def reply_code(outcome: str, accept_ack_type: str, application_ack_type: str) -> str:
    """Return the MSA-1 code of the reply sent on the connection.

    Original mode (MSH-15 and MSH-16 empty) replies AA, AE or AR. Enhanced
    mode replies with the accept acknowledgment (CA, CE, CR) when MSH-15
    requests one, else with the application acknowledgment when MSH-16 requests it.
    """
    if not accept_ack_type and not application_ack_type:
        return ack_code(outcome, enhanced=False)
    if _asks(accept_ack_type, outcome):
        return ack_code(outcome, enhanced=True)
    if _asks(application_ack_type, outcome):
        return ack_code(outcome, enhanced=False)
    # NOTE: MSH-15 and MSH-16 both request no acknowledgment, but MLLP
    # senders still wait for a reply, so the accept acknowledgment is sent.
    return ack_code(outcome, enhanced=True)


@dataclass(frozen=True)
class AckHeader:
    """The inbound header fields an ACK is built from."""

    separators: Separators = DEFAULT_SEPARATORS
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    trigger_event: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = "2.5"
    charset: str = "utf-8"
    msh18: str = ""

    @classmethod
    def from_peek(cls, peek: HeaderPeek) -> "AckHeader":
        """Build a header from fields read out of raw bytes, for messages that could not be parsed."""
        separators = DEFAULT_SEPARATORS
        if peek.field_separator != "|" and len(peek.field_separator) == 1:
            separators = Separators(field=peek.field_separator)
        return cls(
            separators=separators,
            sending_application=peek.sending_application or "",
            sending_facility=peek.sending_facility or "",
            receiving_application=peek.receiving_application or "",
            receiving_facility=peek.receiving_facility or "",
            control_id=peek.control_id or "",
            processing_id=peek.processing_id or "P",
            version=peek.version or "2.5",
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return (2, 5)


def _err_segment(issue: Issue, header: AckHeader) -> str:
    s = header.separators
    text = escape(issue.text, s)
    code_text = ErrorCode.TEXT.get(issue.code, "")
    location = issue.location
    if _version_tuple(header.version) >= (2, 5):
        where = ""
        if location is not None:
            parts = [location.segment, str(location.sequence)]
            if location.field is not None:
                parts.append(str(location.field))
                if location.component is not None:
                    parts += ["1", str(location.component)]
            where = s.component.join(parts)
        code = s.component.join([issue.code, code_text, "HL70357"])
        return s.field.join(["ERR", "", where, code, issue.severity, "", "", "", text])
    # v2.1 to v2.4: ERR-1 is segment^sequence^field^code&text&table.
    parts = ["", "", ""]
    if location is not None:
        parts = [location.segment, str(location.sequence), str(location.field or "")]
    parts.append(s.subcomponent.join([issue.code, escape(issue.text, s), "HL70357"]))
    return s.field.join(["ERR", s.component.join(parts)])


def build_ack(
    header: AckHeader,
    code: str,
    issues: Sequence[Issue] = (),
    now: dt.datetime | None = None,
) -> bytes:
    """Build an ACK for one inbound message, encoded in the inbound character set."""
    s = header.separators
    now = now or dt.datetime.now(dt.timezone.utc)
    control_id = f"ACK{now.strftime('%Y%m%d%H%M%S')}{os.getpid() % 10000:04d}{next(_counter) % 1000000:06d}"
    msh = [
        "MSH", s.encoding_characters,
        header.receiving_application or RECEIVING_APPLICATION, header.receiving_facility,
        header.sending_application, header.sending_facility,
        now.strftime("%Y%m%d%H%M%S") + "+0000", "",
        s.component.join(["ACK", header.trigger_event, "ACK"]) if header.trigger_event else "ACK",
        control_id, header.processing_id or "P", header.version or "2.5",
    ]
    if header.msh18:
        msh += ["", "", "", "", "", header.msh18]
    errors = [issue for issue in issues if issue.severity == "E"]
    text = escape(errors[0].text if errors else "", s)
    msa = s.field.join(["MSA", code, escape(header.control_id, s)] + ([text] if text else []))
    lines = [s.field.join(msh), msa] + [_err_segment(issue, header) for issue in issues]
    return ("\r".join(lines) + "\r").encode(header.charset, errors="strict")
