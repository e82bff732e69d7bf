"""HL7 escape sequences: delimiters, hexadecimal, formatting and highlighting."""

from __future__ import annotations

from heals.connectors.hl7.escapes import DEFAULT_SEPARATORS, Separators, escape, unescape
from heals.connectors.hl7.message import parse_message
from tests.conftest import CASES_DIR


def test_delimiter_sequences():
    assert unescape(r"a\F\b\S\c\T\d\R\e\E\f", DEFAULT_SEPARATORS) == "a|b^c&d~e\\f"


def test_delimiters_follow_the_message():
    separators = Separators(field="^", component="~", repetition="|", escape="\\", subcomponent="&")
    assert unescape(r"x\F\y\S\z\R\w", separators) == "x^y~z|w"


def test_hexadecimal_in_message_charset():
    assert unescape("caf\\XE9\\", DEFAULT_SEPARATORS, "iso8859-1") == "caf\u00e9"
    assert unescape("line\\X0D0A\\next", DEFAULT_SEPARATORS) == "line\r\nnext"


def test_line_break_and_highlighting():
    text = r"pH : \H\ 7.28\N\ (7.38-7.43)\.br\37 \S\o C"
    assert unescape(text, DEFAULT_SEPARATORS) == "pH :  7.28 (7.38-7.43)\n37 ^o C"


def test_unknown_sequence_stays_literal():
    assert unescape(r"a\Q\b", DEFAULT_SEPARATORS) == r"a\Q\b"
    assert unescape("unclosed \\ escape", DEFAULT_SEPARATORS) == "unclosed \\ escape"


def test_formatted_table_round_trips():
    message = parse_message((CASES_DIR / "hl7v2" / "oru_r01_escape_F_br_table_olis_v23.hl7").read_bytes())
    raw = message.first("NTE").raw(3)
    text = unescape(raw, message.separators)
    assert "|" in text and "\n" in text
    assert "\\F\\" not in text
    assert escape(text, message.separators) == raw


def test_escaped_field_separator_does_not_split_the_field():
    message = parse_message((CASES_DIR / "hl7v2" / "oru_r01_escape_F_br_table_olis_v23.hl7").read_bytes())
    nte = message.first("NTE")
    assert len(nte.fields) == 4
