"""The command service against real PostgreSQL: rules, idempotency, atomic batches, sealed events."""

from __future__ import annotations

import pytest

from heals.commands import models
from heals.commands.aggregate import event_id_for
from heals.commands.errors import RuleViolation
from heals.commands.position import decode_position
from heals.envelope import chain_hash
from heals.registry import make_codec
from tests.support.commands import charge, command, order, result

pytestmark = pytest.mark.integration


def admit(patient_id: str, encounter_id: str) -> models.AdmitPatient:
    return command(models.AdmitPatient, patient_id=patient_id, encounter_id=encounter_id)


def merge(survivor: str, merged: str) -> models.MergePatients:
    return command(models.MergePatients, survivor_patient_id=survivor, merged_patient_id=merged)


def stored_events(service, settings) -> list[dict]:
    codec = make_codec(settings)
    return [codec.decode(row.value).value for row in service.store.read_log(0, 100_000)]


REJECTED = [
    ("admit-requires-no-active-admission", [admit("P1", "E1")], admit("P1", "E2")),
    ("discharge-requires-active-admission", [command(models.RegisterPatient, patient_id="P1")],
     command(models.DischargePatient, patient_id="P1")),
    ("transfer-requires-active-admission", [], command(models.TransferPatient, patient_id="P1",
                                                       to_location=models.Location(ward="W1"))),
    ("cancel-admission-requires-admission", [admit("P1", "E1")],
     command(models.CancelAdmission, patient_id="P1", encounter_id="E7")),
    ("cancel-discharge-requires-discharge", [admit("P1", "E1")], command(models.CancelDischarge, patient_id="P1")),
    ("result-requires-placed-order", [], result("P1", "O1", "R1")),
    ("result-requires-active-order", [order("P1", "O1"), command(models.CancelOrder, patient_id="P1", order_id="O1")],
     result("P1", "O1", "R1")),
    ("charge-requires-open-account", [admit("P1", "E1"), charge("A1", "P1", "C1", "E1"),
                                      command(models.DischargePatient, patient_id="P1")], charge("A1", "P1", "C2")),
    ("reversal-requires-posted-charge", [charge("A1", "P1", "C1")],
     command(models.ReverseCharge, account_id="A1", patient_id="P1", charge_id="X1", reversed_charge_id="C404")),
    ("merge-requires-distinct-unmerged-patients",
     [command(models.RegisterPatient, patient_id="A"), command(models.RegisterPatient, patient_id="B"), merge("A", "B")],
     merge("B", "A")),
]


@pytest.mark.parametrize("rule, before, rejected", REJECTED, ids=[case[0] for case in REJECTED])
def test_rule_rejects_and_stores_nothing(service, rule, before, rejected):
    service.execute_all(before)
    events_before = service.store.count_events()
    with pytest.raises(RuleViolation) as caught:
        service.execute(rejected)
    assert caught.value.rule == rule
    assert service.store.count_events() == events_before
    assert service.store.find_commands([rejected.command_id]) == {}


def test_repeated_command_stores_nothing_new(service):
    cmd = admit("P1", "E1")
    first = service.execute(cmd)
    count = service.store.count_events()
    again = service.execute(cmd)
    assert again.duplicate is True
    assert first.duplicate is False
    assert again.event_ids == first.event_ids
    assert again.position == first.position
    assert service.store.count_events() == count


def test_repeated_rejected_command_is_rejected_again(service):
    service.execute(admit("P1", "E1"))
    rejected = admit("P1", "E2")
    for _ in range(2):
        with pytest.raises(RuleViolation):
            service.execute(rejected)


def test_failing_command_rolls_back_its_message(service, settings):
    service.execute(command(models.RegisterPatient, patient_id="A"))
    count = service.store.count_events()
    message = [admit("A", "E1"), command(models.DischargePatient, patient_id="NOBODY")]
    with pytest.raises(RuleViolation):
        service.execute_all(message)
    assert service.store.count_events() == count
    assert service.store.find_commands([c.command_id for c in message]) == {}


def test_two_merge_pairs_commit_together(service, settings):
    service.execute_all([command(models.RegisterPatient, patient_id=p) for p in ("A", "B", "C")])
    outcomes = service.execute_all([merge("A", "B"), merge("A", "C")])
    assert [len(o.event_ids) for o in outcomes] == [2, 2]
    merged = [e for e in stored_events(service, settings) if e["envelope"]["event_type"] == "PatientsMerged"]
    assert {e["envelope"]["aggregate_id"] for e in merged} == {"patient:A", "patient:B", "patient:C"}
    assert {e["envelope"]["patient_id"] for e in merged} == {"A"}


def test_merged_id_resolves_to_survivor_in_envelope(service, settings):
    service.execute_all([admit("B", "EB"), command(models.RegisterPatient, patient_id="A"), merge("A", "B")])
    outcome = service.execute(command(models.DischargePatient, patient_id="B"))
    discharged = stored_events(service, settings)[-1]
    assert discharged["envelope"]["event_type"] == "PatientDischarged"
    assert discharged["envelope"]["patient_id"] == "A"
    assert discharged["envelope"]["aggregate_id"] == "patient:A"
    assert discharged["envelope"]["encounter_id"] == "EB"
    assert decode_position(outcome.position).aggregate_id == "patient:A"


def test_correction_points_to_earlier_result(service, settings):
    service.execute(order("P1", "O1"))
    first = service.execute(result("P1", "O1", "R1"))
    service.execute(result("P1", "O1", "R1", status="corrected", value_quantity=models.Quantity(value=12.1)))
    results = [e for e in stored_events(service, settings) if e["envelope"]["event_type"] == "ResultRecorded"]
    assert results[0]["corrects_event_id"] is None
    assert results[0]["value_quantity"]["value"] == 13.2
    assert results[1]["corrects_event_id"] == first.event_ids[0]
    assert results[1]["value_quantity"]["value"] == 12.1


def test_stored_events_form_hash_chains(service, settings):
    service.execute_all([admit("P1", "E1"), charge("A1", "P1", "C1", "E1"), order("P1", "O1")])
    service.execute(command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward="W2")))
    previous: dict[str, str] = {}
    for event in stored_events(service, settings):
        envelope = event["envelope"]
        assert envelope["prev_hash"] == previous.get(envelope["aggregate_id"])
        assert chain_hash(envelope["prev_hash"], event) == envelope["hash"]
        assert envelope["event_id"] == event_id_for(envelope["aggregate_id"], envelope["aggregate_version"])
        previous[envelope["aggregate_id"]] = envelope["hash"]
    assert set(previous) == {"patient:P1", "account:A1", "order:O1"}


def test_envelope_carries_command_context(service, settings):
    cmd = admit("P1", "E1")
    service.execute(cmd)
    envelope = stored_events(service, settings)[-1]["envelope"]
    assert envelope["causation_id"] == cmd.command_id
    assert envelope["correlation_id"] == cmd.command_id
    assert envelope["occurred_at"] == cmd.occurred_at
    assert envelope["occurred_at_offset_minutes"] == 60
    assert envelope["source"] == {"system": "TEST^WARD", "message_type": "TEST", "message_control_id": "1"}
    assert envelope["aggregate_version"] == 2


def test_charges_are_keyed_by_account(service):
    service.execute(charge("ACC-9", "P1", "C1"))
    row = service.store.read_log(0, 10)[0]
    assert (row.topic, row.key) == ("billing.charges.v1", "ACC-9")


def test_message_mixing_seen_and_new_commands(service):
    admission = admit("P1", "E1")
    first = service.execute(admission)
    transfer = command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward="W2"))

    outcomes = service.execute_all([admission, transfer])

    assert outcomes[0] == first.__class__(first.command_id, first.event_ids, first.position, duplicate=True)
    assert outcomes[1].duplicate is False
    assert len(outcomes[1].event_ids) == 1
    assert service.store.count_events() == 3


def test_repeated_command_in_one_message_runs_once(service):
    registration = command(models.RegisterPatient, patient_id="P1")

    outcomes = service.execute_all([registration, registration])

    assert [o.duplicate for o in outcomes] == [False, True]
    assert outcomes[0].event_ids == outcomes[1].event_ids
    assert service.store.count_events() == 1


def test_patient_loads_from_snapshot(service, settings):
    from heals.commands.patient import Patient
    from heals.commands.store import SNAPSHOT_INTERVAL

    service.execute(admit("P1", "E1"))
    wards = [f"W{n}" for n in range(SNAPSHOT_INTERVAL)]
    service.execute_all([
        command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward=ward)) for ward in wards
    ])
    snapshots = list(service.store.application.snapshots.get(Patient.uuid_for("P1")))
    assert [s.originator_version for s in snapshots] == [SNAPSHOT_INTERVAL]

    outcome = service.execute(command(models.DischargePatient, patient_id="P1"))

    assert decode_position(outcome.position).aggregate_version == SNAPSHOT_INTERVAL + 3
    patient = service.store.get(Patient, "P1")
    assert patient.encounters == {"E1": "discharged"}
    assert patient.version == SNAPSHOT_INTERVAL + 3
