"""Resent messages: the stored ACK again and nothing new; a reused MSH-10 with other content is rejected."""

from __future__ import annotations

import pytest

from tests.integration.hl7.conftest import case

pytestmark = pytest.mark.integration


def test_resend_gets_stored_ack(hl7_listener):
    message = case("adt_a04_register_outpatient_bom_v23.hl7")
    first = hl7_listener.send(message)[0]
    events = hl7_listener.stored_events()

    second, third = hl7_listener.send(message, message)

    assert first.code == "AA"
    assert second.raw == first.raw
    assert third.raw == first.raw
    assert hl7_listener.stored_events() == events


def test_reused_control_id_is_rejected(hl7_listener):
    register = [
        case("adt_a40_inverse_merge_1_A_into_B.hl7")
        .replace(b"ADT^A40^ADT_A39|20160602144309", f"ADT^A28^ADT_A05|PRE-{patient}".encode())
        .replace(b"PID|||PID-A^", f"PID|||PID-{patient}^".encode())
        for patient in "AB"
    ]
    assert [ack.code for ack in hl7_listener.send(*register)] == ["AA", "AA"]

    merge = hl7_listener.send(case("adt_a40_inverse_merge_1_A_into_B.hl7"))[0]
    events = hl7_listener.stored_events()
    inverse = hl7_listener.send(case("adt_a40_inverse_merge_2_B_into_A.hl7"))[0]

    assert merge.code == "AA"
    assert inverse.code == "AR"
    assert "already used by this sender for a different message" in inverse.text
    assert "|205^" in inverse.raw.decode()
    assert hl7_listener.stored_events() == events


def test_inverse_merge_cycle_is_rejected(hl7_listener):
    register = [
        case("adt_a40_inverse_merge_1_A_into_B.hl7")
        .replace(b"ADT^A40^ADT_A39|20160602144309", f"ADT^A28^ADT_A05|PRE-{patient}".encode())
        .replace(b"PID|||PID-A^", f"PID|||PID-{patient}^".encode())
        for patient in "AB"
    ]
    hl7_listener.send(*register)
    hl7_listener.send(case("adt_a40_inverse_merge_1_A_into_B.hl7"))
    events = hl7_listener.stored_events()

    inverse = case("adt_a40_inverse_merge_2_B_into_A.hl7").replace(b"|20160602144309|P|", b"|20160602144310|P|")
    ack = hl7_listener.send(inverse)[0]

    assert ack.code == "AE"
    assert "|205^" in ack.raw.decode()
    assert hl7_listener.stored_events() == events


def test_failed_pair_merges_nothing(hl7_listener):
    # 569 is never registered, so the second PID/MRG pair breaks a rule.
    header = b"ADT^A40^ADT_A40|8919-40"
    register = [
        case("adt_a40_merge_single_v28.hl7").replace(header, f"ADT^A28^ADT_A05|PRE-{p}".encode()).replace(
            b"PID|1||12345^", f"PID|1||{p}^".encode())
        for p in ("12345", "56789", "145")
    ]
    assert [ack.code for ack in hl7_listener.send(*register)] == ["CA"] * 3
    events = hl7_listener.stored_events()

    ack = hl7_listener.send(case("adt_a40_merge_two_pairs_v28.hl7"))[0]

    assert ack.code == "CE"
    assert hl7_listener.stored_events() == events


def test_resent_readings_keep_event_ids(hl7_listener):
    message = case("oru_r01_pcd01_nibp_mdc_v26.hl7")
    renumbered = message.replace(b"|MSGID1234|", b"|MSGID1235|")

    codes = [ack.code for ack in hl7_listener.send(message, renumbered)]

    readings = [
        value for value in hl7_listener.decoded(hl7_listener.topics.readings)
        if value["envelope"]["source"]["message_control_id"] in ("MSGID1234", "MSGID1235")
    ]
    assert codes == ["AA", "AA"]
    assert len(readings) == 6
    assert len({value["envelope"]["event_id"] for value in readings}) == 3
    assert {value["device_id"] for value in readings} == {"0123456789ABCDEF"}
    assert {value["envelope"]["aggregate_version"] for value in readings} == {0}
