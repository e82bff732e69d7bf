"""Decoding and parsing of the case files: delimiters, character sets, terminators."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from heals.connectors.hl7.errors import ErrorCode, MessageRejected
from heals.connectors.hl7.message import parse_message
from tests.conftest import CASES_DIR


def load(name: str) -> bytes:
    return (CASES_DIR / "hl7v2" / name).read_bytes()


def test_byte_order_mark_is_stripped():
    raw = load("adt_a04_register_outpatient_bom_v23.hl7")
    assert raw.startswith(b"\xef\xbb\xbf")
    message = parse_message(raw)
    assert message.msh.name == "MSH"
    assert message.sending_application == "REDOX"


def test_caret_field_separator_and_crlf():
    message = parse_message(load("adt_a24_caret_field_separator_crlf.hl7"))
    assert message.separators.field == "^"
    assert message.separators.component == "~"
    assert message.separators.repetition == "|"
    assert message.decoded.segment_terminator == "\r\n"
    assert message.sending_application == "SENDING"
    assert message.message_code == "ADT" and message.trigger_event == "A24"
    pids = message.all("PID")
    assert [pid.value(3) for pid in pids] == ["11111", "22222"]


def test_line_feed_terminators_are_segments():
    message = parse_message(load("siu_s14_corepoint_LF_terminated_v23.hl7"))
    assert message.decoded.segment_terminator == "\n"
    assert len(message.segments) > 1
    assert message.segments[1].name != "MSH"


def test_latin1_from_msh18():
    message = parse_message(load("adt_a31_ihe_france_latin1_8859_1.hl7"))
    assert message.decoded.charset == "iso8859-1"
    assert message.first("PID").value(11, 2) == "1er \u00e9tage"
    assert message.version == "2.5"


def test_latin1_bytes_declared_utf8_are_rejected():
    raw = load("adt_a31_ihe_france_latin1_8859_1.hl7").replace(b"8859/1", b"UNICODE UTF-8")
    with pytest.raises(MessageRejected) as raised:
        parse_message(raw)
    assert raised.value.code == ErrorCode.DATA_TYPE


def test_unknown_charset_is_rejected():
    raw = load("adt_a31_ihe_france_latin1_8859_1.hl7").replace(b"8859/1", b"EBCDIC")
    with pytest.raises(MessageRejected) as raised:
        parse_message(raw)
    assert raised.value.code == ErrorCode.TABLE_VALUE_NOT_FOUND


def test_z_segment_kept_and_offset_normalised():
    message = parse_message(load("erp_z99_olis_8859_1_zsegment_tz.hl7"))
    assert message.first("ZNT") is not None or any(s.name.startswith("Z") for s in message)
    sent = message.timestamp(message.msh, 7)
    assert sent.utc == dt.datetime(2013, 9, 26, 19, 4, 34, tzinfo=dt.timezone.utc)


def test_truncation_character_is_not_a_delimiter():
    message = parse_message(load("rsp_k22_v27_truncation_char_msh2.hl7"))
    assert message.separators.truncation == "#"
    assert message.sending_application == "SEND APP"
    pid = message.segments[-1]
    assert pid.name == "PID"
    assert pid.value(3, 4, subcomponent=2) == "1.3.6.1.4.1.21367.2011.2.5.17"


def test_damaged_msh2_is_rejected_not_guessed():
    with pytest.raises(MessageRejected) as raised:
        parse_message(load("adt_a01_corrupt_msh2_replacement_char_utf8.hl7"))
    assert raised.value.code == ErrorCode.DATA_TYPE
    assert str(raised.value.issue.location) == "MSH-2"


def test_fuzzed_single_encoding_character_is_rejected_quickly():
    raw = load("fuzz_adt_a40_one_encoding_char_stackoverflow.hl7")
    started = time.process_time()
    with pytest.raises(MessageRejected) as raised:
        parse_message(raw)
    assert raised.value.code == ErrorCode.DATA_TYPE
    assert time.process_time() - started < 1.0


def test_text_pasted_from_a_document_is_rejected_at_first_bad_segment():
    with pytest.raises(MessageRejected) as raised:
        parse_message(load("mdm_t04_pdf_copy_mangled_INVALID.hl7"))
    assert raised.value.code == ErrorCode.SEGMENT_SEQUENCE
    assert "segment 2" in raised.value.issue.text


def test_explicit_null_differs_from_empty():
    message = parse_message(load("adt_a01_pid3_repetitions_nulls_v23.hl7"))
    pv1 = message.first("PV1")
    assert pv1.is_null(9)
    assert pv1.value(9) is None
    assert not pv1.is_null(10)


def test_repetitions_are_kept():
    message = parse_message(load("adt_a01_pid3_repetitions_nulls_v23.hl7"))
    pid = message.first("PID")
    assert len(pid.repetitions(3)) == 2
    assert pid.value(3, 5, repetition=2) == "CM"


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_rejected_or_parsed(seed):
    import random

    generator = random.Random(seed)
    base = bytearray(load("adt_a02_transfer_v28_evn_trigger_mismatch.hl7"))
    for _ in range(30):
        base[generator.randrange(len(base))] = generator.randrange(256)
    try:
        parse_message(bytes(base))
    except MessageRejected:
        pass
