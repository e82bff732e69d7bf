"""Coded and text observations in device messages: charted ACVPU and oxygen become readings."""

from __future__ import annotations

import datetime as dt

from heals.connectors.hl7.mapping.registry import map_message
from heals.connectors.hl7.message import parse_message
from heals.run.hospital_day import DETERIORATING_PATIENT, hospital_day


def _vitals_report(text: str):
    return map_message(parse_message(text.encode("utf-8"), "UTC"), "tenant-a", None).device_report


def _first_vitals_message() -> str:
    day = hospital_day(dt.date(2026, 3, 2), "TT")
    return next(m.text for m in day if m.name == f"ORU^R01 vitals TT{DETERIORATING_PATIENT}")


def test_text_acvpu_becomes_reading():
    report = _vitals_report(_first_vitals_message())
    consciousness = [r for r in report.readings if r.code.code == "67775-7"]
    assert len(consciousness) == 1
    assert consciousness[0].value_text == "A"
    assert consciousness[0].value is None


def test_numeric_vitals_still_carry_quantities():
    report = _vitals_report(_first_vitals_message())
    numeric = {r.code.code: r.value.value for r in report.readings if r.value is not None}
    assert numeric["151562"] == 16
    assert numeric["3151-8"] == 0
    assert len(report.readings) == 7


def test_coded_value_keeps_code_and_display():
    text = _first_vitals_message().replace("|ST|67775-7^Level of responsiveness^LN||A|", "|CWE|67775-7^Level of responsiveness^LN||V^Voice^ACVPU|")
    report = _vitals_report(text)
    coded = [r for r in report.readings if r.code.code == "67775-7"][0]
    assert coded.value_code.code == "V"
    assert coded.value_code.display == "Voice"
    assert coded.value_text is None


def test_explicit_null_value_is_skipped():
    text = _first_vitals_message().replace("|ST|67775-7^Level of responsiveness^LN||A|", '|ST|67775-7^Level of responsiveness^LN||""|')
    report = _vitals_report(text)
    assert [r for r in report.readings if r.code.code == "67775-7"] == []
    assert report.skipped.get("no value") == 1


def test_mdc_coded_device_rows_are_not_readings():
    # The PCD-01 time-synchronisation row is CWE with an MDC code: a device attribute.
    text = _first_vitals_message().replace("|ST|67775-7^Level of responsiveness^LN||A|", "|CWE|68220^MDC_TIME_SYNC_PROTOCOL^MDC||532224^MDC_TIME_SYNC_NONE^MDC|")
    report = _vitals_report(text)
    assert [r for r in report.readings if r.code.code == "68220"] == []
