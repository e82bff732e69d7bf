"""Mapping of the case files to commands and device readings, without a write side."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from heals.connectors.hl7.errors import ErrorCode, MessageInvalid, MessageRejected
from heals.connectors.hl7.mapping.registry import map_message
from heals.connectors.hl7.message import parse_message
from tests.conftest import CASES_DIR

UTC = dt.timezone.utc


def load(name: str) -> bytes:
    return (CASES_DIR / "hl7v2" / name).read_bytes()


def mapped(name: str, raw: bytes | None = None, authority: str | None = None, zone: str = "UTC"):
    return map_message(parse_message(raw or load(name), zone), "tenant-a", authority)


def test_admit_keys_patient_by_mr_and_keeps_other_ids():
    command = mapped("adt_a01_pid3_repetitions_nulls_v23.hl7").commands[0]
    assert command.kind == "admit_patient"
    assert command.patient_id == "9900001"
    assert {(i.value, i.type_code) for i in command.identifiers} == {("9900001", "MR"), ("990002", "CM")}
    assert command.command_id == "HNAM_PM|HNA500|Q150084616T145947960#1:admit"
    assert command.correlation_id == "HNAM_PM|HNA500|Q150084616T145947960"


def test_assigning_authority_setting_selects_identifier():
    command = mapped("adt_a01_pid3_repetitions_nulls_v23.hl7", authority="MSH_MRN").commands[0]
    assert command.patient_id == "9900001"
    with pytest.raises(MessageInvalid) as raised:
        mapped("adt_a01_pid3_repetitions_nulls_v23.hl7", authority="OTHER")
    assert raised.value.code == ErrorCode.UNKNOWN_KEY_IDENTIFIER


def test_discharge_time_comes_from_evn6_in_sender_zone():
    command = mapped("adt_a03_discharge_pid3_validity_dates_v25.hl7", zone="Europe/Rome").commands[0]
    assert command.kind == "discharge_patient"
    assert command.patient_id == "9920255"
    assert command.occurred_at.astimezone(UTC) == dt.datetime(2008, 3, 3, 14, 8, tzinfo=UTC)
    assert command.occurred_at_offset_minutes == 60
    assert command.encounter_id == "2008003369"


def test_transfer_uses_msh9_trigger_and_evn6_time():
    command = mapped("adt_a02_transfer_v28_evn_trigger_mismatch.hl7").commands[0]
    assert command.kind == "transfer_patient"
    assert command.patient_id == "PATID1234"
    assert command.occurred_at.astimezone(UTC) == dt.datetime(2021, 8, 17, 13, 19, 43, 400000, tzinfo=UTC)
    assert command.to_location.ward == "HUH AE OMU"
    assert command.to_location.room == "OMU B"
    assert command.from_location.ward == "4 East, room 136, bed B 4E"


def test_register_outpatient_after_bom():
    command = mapped("adt_a04_register_outpatient_bom_v23.hl7").commands[0]
    assert command.kind == "admit_patient"
    assert command.patient_id == "MRN12345"
    assert command.patient_class == "E"


def test_update_carries_access_restrictions_and_clears_nothing():
    command = mapped("adt_a08_update_patient_info_v28.hl7").commands[0]
    assert command.kind == "update_demographics"
    assert command.access_restrictions == ["DEM"]
    assert command.cleared_fields == []
    assert command.demographics.family_name == "Josh"


def test_explicit_null_clears_a_field():
    raw = load("adt_a08_update_patient_info_v28.hl7").replace(b"|198808181126+0215|M|", b'|""|M|', 1)
    command = mapped("adt_a08_update_patient_info_v28.hl7", raw).commands[0]
    assert command.cleared_fields == ["birth_date"]
    assert command.demographics.birth_date is None


def test_latin1_update_keeps_reliability_and_legal_name():
    command = mapped("adt_a31_ihe_france_latin1_8859_1.hl7").commands[0]
    assert command.demographics.identity_reliability == ["PROV", "FICT"]
    assert command.demographics.given_names[0] == "Firstname"
    assert any("1er \u00e9tage" in line for line in command.demographics.address_lines)


@pytest.mark.parametrize(("name", "kind"), [
    ("adt_a11_cancel_admit_v28.hl7", "cancel_admission"),
    ("adt_a13_cancel_discharge_v28.hl7", "cancel_discharge"),
])
def test_cancellations(name, kind):
    assert mapped(name).commands[0].kind == kind


def test_merge_with_two_pairs_in_order():
    commands = mapped("adt_a40_merge_two_pairs_v28.hl7").commands
    assert [(c.survivor_patient_id, c.merged_patient_id) for c in commands] == [("12345", "56789"), ("145", "569")]
    assert len({c.command_id for c in commands}) == 2


def test_inverse_merge_swaps_survivor():
    first = mapped("adt_a40_inverse_merge_1_A_into_B.hl7").commands[0]
    second = mapped("adt_a40_inverse_merge_2_B_into_A.hl7").commands[0]
    assert (first.survivor_patient_id, first.merged_patient_id) == ("PID-A", "PID-B")
    assert (second.survivor_patient_id, second.merged_patient_id) == ("PID-B", "PID-A")


def test_lab_order_with_specimens():
    command = mapped("oml_o21_lab_order_new_v251.hl7").commands[0]
    assert command.kind == "place_order"
    assert command.order_id == "12345678^gastric"
    assert command.specimen_count == 3
    assert command.service.code == "82951"


def test_order_with_invalid_effective_date_is_flagged():
    result = mapped("orm_o01_order_utf8_bom_v26.hl7")
    assert result.commands[0].order_id == "1101^GHHPlacer"
    assert result.commands[0].service.system == "LN"
    assert [str(w.location) for w in result.warnings] == ["ORC-15"]
    assert result.warnings[0].severity == "W"


def test_preliminary_result_with_organism_code():
    command = mapped("oru_r01_elr_campylobacter_v251.hl7").commands[0]
    assert command.kind == "record_result"
    assert command.status == "preliminary"
    assert command.patient_id == "36363636"
    assert command.value_code.system == "SCT"
    assert command.order_service.code == "625-4"


def test_unknown_value_type_is_an_error():
    with pytest.raises(MessageInvalid) as raised:
        mapped("oru_r01_glucose_sn_invalid_dob_v24.hl7")
    assert raised.value.code == ErrorCode.DATA_TYPE
    assert str(raised.value.issue.location) == "OBX-2"


def test_structured_numeric_value_and_invalid_birth_date():
    raw = load("oru_r01_glucose_sn_invalid_dob_v24.hl7")
    raw = raw[: raw.index(b"\rOBX|2|FN")] + b"\r"
    result = mapped("oru_r01_glucose_sn_invalid_dob_v24.hl7", raw)
    command = result.commands[0]
    assert command.value_quantity.value == 182
    assert command.value_quantity.unit == "mg/dl"
    assert command.abnormal_flags == ["H"]
    assert command.reference_range == "70_105"
    assert [str(w.location) for w in result.warnings] == ["PID-7"]


def test_result_without_trigger_and_escaped_text():
    commands = mapped("oru_r01_escape_F_br_table_olis_v23.hl7").commands
    assert [c.status for c in commands] == ["final", "final"]
    assert commands[0].value_quantity.value == 2.30
    assert commands[0].order_id == "T09-106575-CHO-0"


def test_result_without_pid_is_rejected():
    with pytest.raises(MessageInvalid, match="PID missing"):
        mapped("oru_r01_escape_H_N_S_no_pid_v24.hl7")


def test_charges_from_money_subcomponents():
    commands = mapped("dft_p03_charge_ft1_v28.hl7").commands
    first = commands[0]
    assert first.code.code == "71045" and first.code.system == "C4"
    assert first.quantity == 2
    assert first.extended_amount.amount == Decimal("100") and first.extended_amount.currency == "USD"
    assert first.unit_price.amount == Decimal("50")
    assert first.transaction_date == "2019-11-22"
    assert commands[1].extended_amount.amount == Decimal("120")


def test_unpriced_charge_without_account_is_an_error():
    with pytest.raises(MessageInvalid) as raised:
        mapped("dft_p03_mieweb_vendor_v25.hl7")
    assert raised.value.code == ErrorCode.REQUIRED_FIELD_MISSING


def test_device_readings_from_pcd01():
    report = mapped("oru_r01_pcd01_nibp_mdc_v26.hl7").device_report
    values = {r.code.code: r.value.value for r in report.readings}
    assert values == {"150021": 120, "150022": 80, "150023": 100}
    assert {r.device_id for r in report.readings} == {"0123456789ABCDEF"}
    assert {r.observed_at.utc for r in report.readings} == {dt.datetime(2009, 8, 13, 9, 57, 15, tzinfo=UTC)}
    assert {r.patient_id for r in report.readings} == {"1"}
    assert {r.value.unit for r in report.readings} == {"MDC_DIM_MMHG"}


def test_demo_mode_values_are_not_readings():
    report = mapped("oru_r01_mindray_vs8_pcd01_demo_mode.hl7").device_report
    assert report.readings == []
    assert report.skipped == {"demo mode": 4}


def test_sentinel_values_are_not_readings():
    report = mapped("oru_r01_monitor_sentinel_values_no_patient.hl7").device_report
    assert report.readings == []
    assert report.skipped == {"not measured": 4}


def test_unbound_device_reading_keeps_local_time():
    raw = load("oru_r01_monitor_sentinel_values_no_patient.hl7").replace(b"|-999|266016", b"|118|266016")
    report = mapped("oru_r01_monitor_sentinel_values_no_patient.hl7", raw, zone="America/Chicago").device_report
    reading = report.readings[0]
    assert reading.patient_id is None
    assert reading.device_id == "00A037009B000000"
    assert reading.observed_at.utc == dt.datetime(2021, 6, 11, 15, 20, 47, tzinfo=UTC)


@pytest.mark.parametrize(("name", "code"), [
    ("adt_a24_caret_field_separator_crlf.hl7", ErrorCode.UNSUPPORTED_EVENT_CODE),
    ("erp_z99_olis_8859_1_zsegment_tz.hl7", ErrorCode.UNSUPPORTED_MESSAGE_TYPE),
    ("siu_s12_new_appointment_v28.hl7", ErrorCode.UNSUPPORTED_MESSAGE_TYPE),
    ("ack_aa_v261_no_trigger.hl7", ErrorCode.UNSUPPORTED_VERSION_ID),
])
def test_unsupported_messages_are_rejected(name, code):
    with pytest.raises(MessageRejected) as raised:
        mapped(name)
    assert raised.value.code == code
