"""HL7 DTM timestamps: every precision, offsets, the sender's zone, invalid values."""

from __future__ import annotations

import datetime as dt

import pytest

from heals.connectors.hl7.timestamps import InvalidTimestamp, parse_dtm

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "precision", "utc"),
    [
        ("2024", "year", dt.datetime(2024, 1, 1, tzinfo=UTC)),
        ("202403", "month", dt.datetime(2024, 3, 1, tzinfo=UTC)),
        ("20240305", "day", dt.datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024030514", "hour", dt.datetime(2024, 3, 5, 14, tzinfo=UTC)),
        ("202403051415", "minute", dt.datetime(2024, 3, 5, 14, 15, tzinfo=UTC)),
        ("20240305141516", "second", dt.datetime(2024, 3, 5, 14, 15, 16, tzinfo=UTC)),
        ("20240305141516.1234", "second", dt.datetime(2024, 3, 5, 14, 15, 16, 123400, tzinfo=UTC)),
    ],
)
def test_every_precision_parses(text, precision, utc):
    value = parse_dtm(text, "UTC")
    assert value.precision == precision
    assert value.utc == utc


def test_offset_is_applied_and_kept():
    value = parse_dtm("20130926150434-0400", "Europe/Berlin")
    assert value.utc == dt.datetime(2013, 9, 26, 19, 4, 34, tzinfo=UTC)
    assert value.offset_minutes == -240


def test_unusual_offset_with_minutes():
    value = parse_dtm("198908181126+0215", "UTC")
    assert value.utc == dt.datetime(1989, 8, 18, 9, 11, tzinfo=UTC)
    assert value.offset_minutes == 135


def test_tenths_of_second_with_offset():
    value = parse_dtm("20210817151943.4+0200", "UTC")
    assert value.utc == dt.datetime(2021, 8, 17, 13, 19, 43, 400000, tzinfo=UTC)
    assert value.fraction_digits == 1


def test_missing_offset_uses_sender_time_zone():
    value = parse_dtm("200803031508", "Europe/Rome")
    assert value.utc == dt.datetime(2008, 3, 3, 14, 8, tzinfo=UTC)
    assert value.offset_minutes == 60


@pytest.mark.parametrize(
    "text",
    [
        "2010201200+0215",  # month 20
        "196203520",  # odd number of digits
        "20240230",  # 30 February
        "20240101246000",  # hour 24
        "20240101+2500",  # offset out of range
        "2024010112.5",  # fraction without seconds
        "abc",
        "2" * 200,
    ],
)
def test_invalid_values_are_flagged_not_invented(text):
    with pytest.raises(InvalidTimestamp):
        parse_dtm(text, "UTC")


def test_date_text_keeps_precision():
    assert parse_dtm("1962", "UTC").date_text() == "1962"
    assert parse_dtm("196203", "UTC").date_text() == "1962-03"
    assert parse_dtm("19620320", "UTC").date_text() == "1962-03-20"
