"""ACK building and reading: codes, ERR segments by version, character sets."""

from __future__ import annotations

import pytest

from heals.connectors.hl7.ack import AckHeader, Outcome, build_ack, reply_code
from heals.connectors.hl7.client import read_ack, read_acks
from heals.connectors.hl7.errors import ErrorCode, ErrorLocation, Issue
from tests.conftest import CASES_DIR


def load(name: str) -> bytes:
    return (CASES_DIR / "hl7v2" / name).read_bytes()


@pytest.mark.parametrize(("outcome", "accept", "application", "code"), [
    (Outcome.ACCEPTED, "", "", "AA"),
    (Outcome.ERROR, "", "", "AE"),
    (Outcome.REJECTED, "", "", "AR"),
    (Outcome.ACCEPTED, "AL", "NE", "CA"),
    (Outcome.ERROR, "AL", "AL", "CE"),
    (Outcome.REJECTED, "AL", "NE", "CR"),
    (Outcome.ACCEPTED, "NE", "AL", "AA"),
    (Outcome.ERROR, "NE", "AL", "AE"),
    (Outcome.ACCEPTED, "ER", "AL", "AA"),
    (Outcome.ERROR, "ER", "AL", "CE"),
    (Outcome.ACCEPTED, "NE", "NE", "CA"),
])
def test_reply_code_by_mode(outcome, accept, application, code):
    assert reply_code(outcome, accept, application) == code


def test_unsupported_version_ack_matches_hl7_example():
    header = AckHeader(sending_application="DCS", sending_facility="MYIIS", control_id="9299381", version="2.5.1")
    issue = Issue(ErrorCode.UNSUPPORTED_VERSION_ID, "MSH-12 version id '9.9' is not supported", ErrorLocation("MSH", 1, 12))
    lines = build_ack(header, "AR", [issue]).decode("ascii").split("\r")
    assert lines[1].startswith("MSA|AR|9299381|")
    err = lines[2].split("|")
    assert err[2] == "MSH^1^12"
    assert err[3] == "203^Unsupported version id^HL70357"
    assert err[4] == "E"
    assert err[8] == "MSH-12 version id '9.9' is not supported"
    assert lines[0].split("|")[4:6] == ["DCS", "MYIIS"]


def test_old_versions_put_location_and_code_in_err1():
    header = AckHeader(control_id="X1", version="2.3")
    issue = Issue(ErrorCode.REQUIRED_FIELD_MISSING, "PID-3 is empty", ErrorLocation("PID", 1, 3))
    err = build_ack(header, "AE", [issue]).decode("ascii").split("\r")[2]
    assert err == "ERR|PID^1^3^101&PID-3 is empty&HL70357"


def test_ack_text_is_escaped_in_sender_delimiters():
    header = AckHeader(control_id="A|B")
    ack = build_ack(header, "AE", [Issue("207", "a|b^c")])
    assert b"MSA|AE|A\\F\\B|a\\F\\b\\S\\c" in ack
    assert read_ack(ack).control_id == "A|B"
    assert read_ack(ack).text == "a|b^c"


def test_ack_uses_sender_charset():
    header = AckHeader(control_id="\u00e9t\u00e9", charset="iso8859-1", msh18="8859/1")
    ack = build_ack(header, "AA")
    assert "\u00e9t\u00e9".encode("iso8859-1") in ack
    assert b"|8859/1" in ack


@pytest.mark.parametrize(("name", "code", "control_id", "text"), [
    ("ack_a31_ar_multibyte_control_id_utf8.hl7", "AR", "I\u2665HAPI", ""),
    ("ack_aa_v261_no_trigger.hl7", "AA", "9B38584D", "Everything was okay dokay!"),
    ("ack_ae_err_v231.hl7", "AE", "00000001", "Patient id was not found, must be of type 'MR'"),
    ("ack_ar_unsupported_version_v251.hl7", "AR", "9299381", "Unsupported HL7 Version ID-Message rejected"),
])
def test_client_reads_acks_from_other_engines(name, code, control_id, text):
    ack = read_ack(load(name))
    assert ack.code == code
    assert ack.control_id == control_id
    assert ack.text == text


def test_batch_reply_gives_one_ack_per_message():
    first = build_ack(AckHeader(control_id="M1"), "CA")
    second = build_ack(AckHeader(control_id="M2"), "CE", [Issue("205", "duplicate")])
    reply = b"BHS|^~\\&|HEALS\r" + first + second + b"BTS|2\r"
    acks = read_acks(reply)
    assert [(a.code, a.control_id) for a in acks] == [("CA", "M1"), ("CE", "M2")]
    assert acks[1].text == "duplicate"
