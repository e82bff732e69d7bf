"""Every HL7 v2 case file through a real socket, the real write side, PostgreSQL and Kafka.

Each row names a case file and the messages that must come first. Those are
derived from the case file itself by changing MSH-9 and MSH-10, so the
patient and visit match. The row then gives the ACK code, the events stored
for the case message and whether it is parked on the dead-letter topic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from heals.connectors.hl7.batch import split_envelope
from tests.integration.hl7.conftest import case, case_names

pytestmark = pytest.mark.integration


def derived(name: str, *replacements: tuple[bytes, bytes]) -> bytes:
    """A case file with byte replacements applied; each replacement must match."""
    data = case(name)
    for old, new in replacements:
        assert old in data, f"{old!r} not in {name}"
        data = data.replace(old, new)
    return data


@dataclass(frozen=True)
class Row:
    """Expected outcome of one case file."""

    ack: str
    events: tuple[str, ...] = ()
    before: tuple[bytes, ...] = ()
    readings: int = 0
    parked: bool = False
    error_text: str = ""
    acks: tuple[str, ...] = field(default=())


def _register(name: str, header: bytes, *patients: tuple[bytes, bytes]) -> tuple[bytes, ...]:
    # ADT^A28 from the case file, once per patient, each with its own MSH-10.
    # A merge stores one PatientsMerged on the survivor and one on the merged patient.
    messages = []
    for index, (old_pid, new_pid) in enumerate(patients):
        new_header = f"ADT^A28^ADT_A05|PRE-{index}".encode()
        replacements = [(header, new_header)]
        if old_pid != new_pid:
            replacements.append((old_pid, new_pid))
        messages.append(derived(name, *replacements))
    return tuple(messages)


A40_SINGLE = "adt_a40_merge_single_v28.hl7"
A40_PAIRS = "adt_a40_merge_two_pairs_v28.hl7"
A40_INVERSE = "adt_a40_inverse_merge_1_A_into_B.hl7"

CASES: dict[str, Row] = {
    "ack_a31_ar_multibyte_control_id_utf8.hl7": Row("AR", parked=True, error_text="ACK^A31 is not supported"),
    "ack_aa_v261_no_trigger.hl7": Row("AR", parked=True, error_text="version id '2.6.1' is not supported"),
    "ack_ae_err_v231.hl7": Row("AR", parked=True, error_text="is not supported"),
    "ack_ar_unsupported_version_v251.hl7": Row("AR", parked=True, error_text="ACK^V04 is not supported"),
    "adt_a01_corrupt_msh2_replacement_char_utf8.hl7": Row("AR", parked=True, error_text="encoding characters are damaged"),
    "adt_a01_pid3_repetitions_nulls_v23.hl7": Row("AA", ("PatientRegistered", "PatientAdmitted")),
    "adt_a02_transfer_v28_evn_trigger_mismatch.hl7": Row(
        "AA", ("PatientTransferred",),
        before=(derived("adt_a02_transfer_v28_evn_trigger_mismatch.hl7", (b"ADT^A02^ADT_A02|MSG00001", b"ADT^A01^ADT_A01|PRE-A01")),),
    ),
    "adt_a03_discharge_pid3_validity_dates_v25.hl7": Row(
        "AA", ("PatientDischarged",),
        before=(derived("adt_a03_discharge_pid3_validity_dates_v25.hl7", (b"ADT^A03|263206", b"ADT^A01|PRE-A01")),),
    ),
    "adt_a04_register_outpatient_bom_v23.hl7": Row("AA", ("PatientRegistered", "PatientAdmitted")),
    "adt_a08_update_patient_info_v28.hl7": Row(
        "AA", ("DemographicsUpdated",),
        before=(derived("adt_a08_update_patient_info_v28.hl7", (b"ADT^A08^ADT_A08|MSG00001", b"ADT^A28^ADT_A05|PRE-A28")),),
    ),
    "adt_a11_cancel_admit_v28.hl7": Row(
        "AA", ("AdmissionCancelled",),
        before=(derived("adt_a11_cancel_admit_v28.hl7", (b"ADT^A11^ADT_A11|MSG00001", b"ADT^A01^ADT_A01|PRE-A01")),),
    ),
    "adt_a13_cancel_discharge_v28.hl7": Row(
        "AA", ("DischargeCancelled",),
        before=(
            derived("adt_a13_cancel_discharge_v28.hl7", (b"ADT^A13^ADT_A13|MSG00001", b"ADT^A01^ADT_A01|PRE-A01")),
            derived("adt_a13_cancel_discharge_v28.hl7", (b"ADT^A13^ADT_A13|MSG00001", b"ADT^A03^ADT_A03|PRE-A03")),
        ),
    ),
    "adt_a24_caret_field_separator_crlf.hl7": Row("CR", parked=True, error_text="ADT^A24 is not supported"),
    "adt_a31_ihe_france_latin1_8859_1.hl7": Row(
        "AA", ("DemographicsUpdated",),
        before=(derived("adt_a31_ihe_france_latin1_8859_1.hl7", (b"ADT^A31^ADT_A05|12345", b"ADT^A28^ADT_A05|PRE-A28")),),
    ),
    A40_INVERSE: Row(
        "AA", ("PatientsMerged", "PatientsMerged"),
        before=_register(A40_INVERSE, b"ADT^A40^ADT_A39|20160602144309", (b"PID|||PID-A^", b"PID|||PID-A^"), (b"PID|||PID-A^", b"PID|||PID-B^")),
    ),
    "adt_a40_inverse_merge_2_B_into_A.hl7": Row(
        "AA", ("PatientsMerged", "PatientsMerged"),
        before=_register(A40_INVERSE, b"ADT^A40^ADT_A39|20160602144309", (b"PID|||PID-A^", b"PID|||PID-A^"), (b"PID|||PID-A^", b"PID|||PID-B^")),
    ),
    A40_SINGLE: Row(
        "CA", ("PatientsMerged", "PatientsMerged"),
        before=_register(A40_SINGLE, b"ADT^A40^ADT_A40|8919-40", (b"PID|1||12345^", b"PID|1||12345^"), (b"PID|1||12345^", b"PID|1||56789^")),
    ),
    A40_PAIRS: Row(
        "CA", ("PatientsMerged",) * 4,
        before=_register(A40_SINGLE, b"ADT^A40^ADT_A40|8919-40", *[(b"PID|1||12345^", f"PID|1||{p}^".encode()) for p in ("12345", "56789", "145", "569")]),
    ),
    "batch_bhs_two_messages_bts.hl7": Row("CA", ("PatientRegistered", "PatientAdmitted"), acks=("CA", "CE")),
    "batch_invalid_second_bhs_inside_message.hl7": Row("AR", parked=True, error_text="more than one BHS"),
    "dft_p03_charge_ft1_v28.hl7": Row("AA", ("ChargePosted", "ChargePosted")),
    "dft_p03_mieweb_vendor_v25.hl7": Row("AE", parked=True, error_text="PID-18 account number and PV1-19 visit number are empty"),
    "erp_z99_olis_8859_1_zsegment_tz.hl7": Row("AR", parked=True, error_text="ERP^Z99 is not supported"),
    "file_fhs_two_batches_duplicate_control_id.hl7": Row(
        "CA", ("PatientRegistered", "PatientAdmitted"), acks=("CA", "CE", "CA"),
    ),
    "fuzz_adt_a40_one_encoding_char_stackoverflow.hl7": Row("AR", parked=True, error_text="MSH-2 has 1 encoding characters"),
    "mdm_t02_ed_base64_empty_payload_v28.hl7": Row("AR", parked=True, error_text="MDM^T02 is not supported"),
    "mdm_t04_pdf_copy_mangled_INVALID.hl7": Row("AR", parked=True, error_text="segment 2 does not start with a segment id"),
    "omg_o19_ed_base64_images_long.hl7": Row("AR", parked=True, error_text="OMG^O19 is not supported"),
    "oml_o21_lab_order_new_v251.hl7": Row("AA", ("OrderPlaced",)),
    "orm_o01_order_utf8_bom_v26.hl7": Row("AA", ("OrderPlaced",), error_text="ORC-15 is not a valid date/time"),
    "oru_r01_elr_campylobacter_v251.hl7": Row("CA", ("OrderPlaced", "ResultRecorded")),
    "oru_r01_escape_F_br_table_olis_v23.hl7": Row("AA", ("OrderPlaced", "ResultRecorded", "ResultRecorded")),
    "oru_r01_escape_H_N_S_no_pid_v24.hl7": Row("CE", parked=True, error_text="required segment PID missing"),
    "oru_r01_glucose_sn_invalid_dob_v24.hl7": Row("AE", parked=True, error_text="OBX-2 value type 'FN' is not an HL7 data type"),
    "oru_r01_mindray_vs8_pcd01_demo_mode.hl7": Row("CA"),
    "oru_r01_monitor_sentinel_values_no_patient.hl7": Row("CA"),
    "oru_r01_pcd01_nibp_mdc_v26.hl7": Row("AA", readings=3),
    "rsp_k22_v27_truncation_char_msh2.hl7": Row("AR", parked=True, error_text="RSP^K22 is not supported"),
    "siu_s12_new_appointment_v28.hl7": Row("AR", parked=True, error_text="SIU^S12 is not supported"),
    "siu_s14_corepoint_LF_terminated_v23.hl7": Row("AR", parked=True, error_text="SIU^S14 is not supported"),
}


def test_every_case_file_has_a_row():
    assert sorted(CASES) == case_names()


def _batch_codes(raw: bytes) -> list[str]:
    lines = raw.decode("utf-8", "replace").split("\r")
    return [line.split("|")[1] for line in lines if line.startswith("MSA")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_file_gets_expected_outcome(hl7_listener, name):
    row = CASES[name]
    for message in row.before:
        assert hl7_listener.send(message)[0].code in ("AA", "CA")
    events_before = len(hl7_listener.stored_events())

    ack = hl7_listener.send(case(name))[0]

    assert ack.code == row.ack, ack.text
    if row.error_text:
        assert row.error_text in ack.text
    if row.acks:
        assert _batch_codes(ack.raw) == list(row.acks)
    new_events = hl7_listener.stored_events()[events_before:]
    assert Counter(event.event_type for event in new_events) == Counter(row.events)

    # The relay publishes what was stored; every stored event reaches its topic.
    hl7_listener.publish()
    published = {
        value["envelope"]["event_id"]
        for topic in hl7_listener.topics.relay.values()
        for value in hl7_listener.decoded(topic)
    }
    assert {str(event.event_id) for event in new_events} <= published

    control_id = ack.control_id
    readings = [v for v in hl7_listener.decoded(hl7_listener.topics.readings) if v["envelope"]["source"]["message_control_id"] == control_id]
    assert len(readings) == row.readings

    # A batch is archived message by message, each with its own ACK.
    originals = [case(name)]
    if row.acks:
        originals = split_envelope(case(name)).messages
    for original in originals:
        archived = hl7_listener.archived(original)
        assert archived, "message not archived byte for byte"
        assert archived[-1]["ack"]
    if not row.acks:
        assert archived[-1]["ack"] == ack.raw

    parked = [v for v in hl7_listener.decoded(hl7_listener.topics.dead_letters) if v["original"] == case(name)]
    assert bool(parked) == row.parked
