"""Aggregate rules through the command handlers, on an in-memory store of aggregates."""

from __future__ import annotations

from typing import Any

import pytest

from heals.commands import models
from heals.commands.aggregate import HealsAggregate, event_id_for
from heals.commands.errors import RuleViolation
from heals.commands.handlers import UnitOfWork, handle
from heals.commands.sealing import avro_event_type
from heals.commands.store import LoadedAggregate
from tests.support.commands import charge, command, order, result


class MemoryStore:
    """Keeps aggregates by key between units of work, as the PostgreSQL store would."""

    def __init__(self) -> None:
        self.aggregates: dict[str, HealsAggregate] = {}
        self.events: list[Any] = []

    def get(self, aggregate_class: type[HealsAggregate], domain_id: str) -> Any:
        return self.aggregates.get(aggregate_class.key_for(domain_id))

    def load(self, aggregate_class: type[HealsAggregate], domain_id: str, *, use_cache: bool = True) -> Any:
        aggregate = self.get(aggregate_class, domain_id)
        return LoadedAggregate(aggregate) if aggregate is not None else None

    def run(self, *commands: models.Command) -> list[Any]:
        uow = UnitOfWork(self)  # type: ignore[arg-type]
        for cmd in commands:
            handle(uow, cmd)
        new_events = [event for _, event in uow.take_new_events()]
        for key, aggregate in uow.aggregates.items():
            aggregate.collect_events()
            self.aggregates[key] = aggregate
        self.events.extend(new_events)
        return new_events


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def admit(patient_id: str, encounter_id: str) -> models.AdmitPatient:
    return command(models.AdmitPatient, patient_id=patient_id, encounter_id=encounter_id)


def types_of(events: list[Any]) -> list[str]:
    return [avro_event_type(e) for e in events]


def rejected(store: MemoryStore, cmd: models.Command) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        store.run(cmd)
    return caught.value


# -- admissions ---------------------------------------------------------------

def test_admit_unknown_patient_registers_first(store):
    assert types_of(store.run(admit("P1", "E1"))) == ["PatientRegistered", "PatientAdmitted"]


def test_admit_of_admitted_patient_is_rejected(store):
    store.run(admit("P1", "E1"))
    error = rejected(store, admit("P1", "E2"))
    assert error.rule == "admit-requires-no-active-admission"
    assert error.aggregate_id == "patient:P1"
    assert error.state == "admitted in encounter E1"
    assert error.ids == {"patient_id": "P1", "encounter_id": "E2"}


def test_admit_reusing_encounter_id_is_rejected(store):
    store.run(admit("P1", "E1"), command(models.DischargePatient, patient_id="P1"))
    assert rejected(store, admit("P1", "E1")).rule == "admit-requires-new-encounter"


@pytest.mark.parametrize("model, rule", [
    (models.DischargePatient, "discharge-requires-active-admission"),
    (models.CancelAdmission, "cancel-admission-requires-admission"),
])
def test_without_admission_is_rejected(store, model, rule):
    store.run(command(models.RegisterPatient, patient_id="P1"))
    error = rejected(store, command(model, patient_id="P1"))
    assert error.rule == rule
    assert error.state == "not admitted"


def test_transfer_without_admission_is_rejected(store):
    store.run(command(models.RegisterPatient, patient_id="P1"))
    error = rejected(store, command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward="W2")))
    assert error.rule == "transfer-requires-active-admission"


def test_discharge_of_unknown_patient_is_rejected(store):
    error = rejected(store, command(models.DischargePatient, patient_id="NOBODY"))
    assert error.rule == "discharge-requires-active-admission"
    assert error.state == "unknown"


def test_discharge_naming_other_encounter_is_rejected(store):
    store.run(admit("P1", "E1"))
    assert rejected(store, command(models.DischargePatient, patient_id="P1", encounter_id="E9")).ids["encounter_id"] == "E9"


def test_cancel_admission_without_match_is_rejected(store):
    store.run(admit("P1", "E1"))
    error = rejected(store, command(models.CancelAdmission, patient_id="P1", encounter_id="E-OTHER"))
    assert error.rule == "cancel-admission-requires-admission"
    assert error.ids == {"patient_id": "P1", "encounter_id": "E-OTHER"}


def test_cancel_admission_voids_active_encounter(store):
    store.run(admit("P1", "E1"))
    assert types_of(store.run(command(models.CancelAdmission, patient_id="P1"))) == ["AdmissionCancelled"]
    assert types_of(store.run(admit("P1", "E2"))) == ["PatientAdmitted"]


def test_cancel_discharge_without_discharge_is_rejected(store):
    store.run(admit("P1", "E1"))
    assert rejected(store, command(models.CancelDischarge, patient_id="P1")).rule == "cancel-discharge-requires-discharge"


def test_cancel_discharge_reopens_encounter(store):
    store.run(admit("P1", "E1"), command(models.DischargePatient, patient_id="P1"))
    assert types_of(store.run(command(models.CancelDischarge, patient_id="P1"))) == ["DischargeCancelled"]
    assert types_of(store.run(command(models.TransferPatient, patient_id="P1", to_location=models.Location(ward="W3")))) == ["PatientTransferred"]


def test_cancel_discharge_while_admitted_elsewhere_is_rejected(store):
    store.run(admit("P1", "E1"), command(models.DischargePatient, patient_id="P1"), admit("P1", "E2"))
    error = rejected(store, command(models.CancelDischarge, patient_id="P1", encounter_id="E1"))
    assert error.rule == "cancel-discharge-requires-no-active-admission"


def test_spo2_scale_assignment_emits_event(store):
    store.run(command(models.RegisterPatient, patient_id="P1"))
    events = store.run(command(models.AssignSpo2Scale, patient_id="P1", scale=2, reason="hypercapnic"))
    assert types_of(events) == ["Spo2ScaleAssigned"]
    assert events[0].scale == 2


# -- merges -------------------------------------------------------------------

def merge(survivor: str, merged: str) -> models.MergePatients:
    return command(models.MergePatients, survivor_patient_id=survivor, merged_patient_id=merged)


def test_merge_gives_survivor_both_histories(store):
    store.run(command(models.RegisterPatient, patient_id="A"), admit("B", "EB"))
    store.run(merge("A", "B"))
    survivor = store.aggregates["patient:A"]
    assert survivor.encounters == {"EB": "admitted"}
    assert survivor.merged_patient_ids == ["B"]
    assert store.aggregates["patient:B"].merged_into == "A"


def test_command_naming_merged_id_resolves_to_survivor(store):
    store.run(command(models.RegisterPatient, patient_id="A"), admit("B", "EB"), merge("A", "B"))
    events = store.run(command(models.DischargePatient, patient_id="B"))
    assert events[0].originator_id == store.aggregates["patient:A"].id
    assert events[0].patient_id == "A"


@pytest.mark.parametrize("second", [("B", "A"), ("B", "C")])
def test_merge_naming_merged_id_as_survivor_is_rejected(store, second):
    store.run(*(command(models.RegisterPatient, patient_id=p) for p in "ABC"), merge("A", "B"))
    error = rejected(store, merge(*second))
    assert error.rule == "merge-requires-distinct-unmerged-patients"
    assert error.state == "merged into A"


def test_merge_of_already_merged_id_is_rejected(store):
    store.run(*(command(models.RegisterPatient, patient_id=p) for p in "ABC"), merge("A", "B"))
    assert rejected(store, merge("C", "B")).reason == "the merged patient was already merged"


def test_merge_into_itself_is_rejected(store):
    store.run(command(models.RegisterPatient, patient_id="A"))
    assert rejected(store, merge("A", "A")).rule == "merge-requires-distinct-unmerged-patients"


def test_merge_of_unknown_patient_is_rejected(store):
    store.run(command(models.RegisterPatient, patient_id="A"))
    assert rejected(store, merge("A", "GHOST")).rule == "merge-requires-registered-patients"


def test_two_merge_pairs_in_one_message(store):
    store.run(*(command(models.RegisterPatient, patient_id=p) for p in "ABC"))
    events = store.run(merge("A", "B"), merge("A", "C"))
    assert types_of(events) == ["PatientsMerged"] * 4
    assert store.aggregates["patient:A"].merged_patient_ids == ["B", "C"]


# -- orders and results -------------------------------------------------------

def test_result_for_unknown_order_is_rejected(store):
    error = rejected(store, result("P1", "O-404", "R1"))
    assert error.rule == "result-requires-placed-order"
    assert error.ids == {"order_id": "O-404"}


def test_unsolicited_result_places_order(store):
    cmd = result("P1", "O-LAB", "R1", placer_order_number="LAB-77", order_service=models.Code(code="CBC"))
    assert types_of(store.run(cmd)) == ["OrderPlaced", "ResultRecorded"]


def test_result_for_cancelled_order_is_rejected(store):
    store.run(order("P1", "O1"), command(models.CancelOrder, patient_id="P1", order_id="O1"))
    error = rejected(store, result("P1", "O1", "R1"))
    assert error.rule == "result-requires-active-order"
    assert error.state == "order cancelled"


def test_correction_names_earlier_result_event(store):
    store.run(order("P1", "O1"))
    first = store.run(result("P1", "O1", "R1"))[0]
    correction = store.run(result("P1", "O1", "R1", status="corrected"))[0]
    assert first.corrects_event_id is None
    assert correction.corrects_event_id == event_id_for("order:O1", first.originator_version)


def test_cancelling_result_names_latest_correction(store):
    store.run(order("P1", "O1"), result("P1", "O1", "R1"))
    correction = store.run(result("P1", "O1", "R1", status="corrected"))[0]
    cancellation = store.run(result("P1", "O1", "R1", status="cancelled"))[0]
    assert cancellation.corrects_event_id == event_id_for("order:O1", correction.originator_version)


def test_second_placement_of_order_is_rejected(store):
    store.run(order("P1", "O1"))
    assert rejected(store, order("P1", "O1")).rule == "place-order-requires-new-order-id"


def test_cancel_of_cancelled_order_is_rejected(store):
    store.run(order("P1", "O1"), command(models.CancelOrder, patient_id="P1", order_id="O1"))
    assert rejected(store, command(models.CancelOrder, patient_id="P1", order_id="O1")).rule == "cancel-order-requires-active-order"


def test_status_change_of_unknown_order_is_rejected(store):
    error = rejected(store, command(models.ChangeOrderStatus, patient_id="P1", order_id="O1", status="completed"))
    assert error.rule == "order-status-requires-placed-order"


def test_order_of_merged_patient_names_survivor(store):
    store.run(*(command(models.RegisterPatient, patient_id=p) for p in "AB"), merge("A", "B"))
    assert store.run(order("B", "O1"))[0].patient_id == "A"


# -- billing ------------------------------------------------------------------

def test_charge_on_discharged_encounter_is_rejected(store):
    store.run(admit("P1", "E1"), charge("ACC1", "P1", "C1", encounter_id="E1"),
              command(models.DischargePatient, patient_id="P1"))
    error = rejected(store, charge("ACC1", "P1", "C2"))
    assert error.rule == "charge-requires-open-account"
    assert error.state == "closed, encounter E1 discharged"


def test_charge_after_cancelled_discharge_is_accepted(store):
    store.run(admit("P1", "E1"), charge("ACC1", "P1", "C1", encounter_id="E1"),
              command(models.DischargePatient, patient_id="P1"), command(models.CancelDischarge, patient_id="P1"))
    assert types_of(store.run(charge("ACC1", "P1", "C2"))) == ["ChargePosted"]


def test_first_charge_on_discharged_encounter_is_rejected(store):
    store.run(admit("P1", "E1"), command(models.DischargePatient, patient_id="P1"))
    assert rejected(store, charge("ACC-NEW", "P1", "C1", encounter_id="E1")).rule == "charge-requires-open-account"


def test_reversal_of_unknown_charge_is_rejected(store):
    store.run(charge("ACC1", "P1", "C1"))
    reversal = command(models.ReverseCharge, account_id="ACC1", patient_id="P1", charge_id="R1", reversed_charge_id="C9")
    error = rejected(store, reversal)
    assert error.rule == "reversal-requires-posted-charge"
    assert error.ids["reversed_charge_id"] == "C9"


def test_reversal_of_other_accounts_charge_is_rejected(store):
    store.run(charge("ACC1", "P1", "C1"), charge("ACC2", "P1", "C2"))
    reversal = command(models.ReverseCharge, account_id="ACC1", patient_id="P1", charge_id="R1", reversed_charge_id="C2")
    assert rejected(store, reversal).rule == "reversal-requires-posted-charge"


def test_second_reversal_is_rejected(store):
    store.run(charge("ACC1", "P1", "C1"))
    store.run(command(models.ReverseCharge, account_id="ACC1", patient_id="P1", charge_id="R1", reversed_charge_id="C1"))
    again = command(models.ReverseCharge, account_id="ACC1", patient_id="P1", charge_id="R2", reversed_charge_id="C1")
    assert rejected(store, again).rule == "reversal-requires-unreversed-charge"


def test_reversal_on_closed_account_is_accepted(store):
    store.run(admit("P1", "E1"), charge("ACC1", "P1", "C1", encounter_id="E1"),
              command(models.DischargePatient, patient_id="P1"))
    reversal = command(models.ReverseCharge, account_id="ACC1", patient_id="P1", charge_id="R1", reversed_charge_id="C1")
    assert types_of(store.run(reversal)) == ["ChargeReversed"]


def test_reused_charge_id_is_rejected(store):
    store.run(charge("ACC1", "P1", "C1"))
    assert rejected(store, charge("ACC1", "P1", "C1")).rule == "charge-requires-new-charge-id"


def test_rule_violation_message_has_no_clinical_content(store):
    store.run(command(models.RegisterPatient, patient_id="P1",
                      demographics=models.Demographics(family_name="Synthetic-Surname")))
    error = rejected(store, command(models.DischargePatient, patient_id="P1"))
    assert "Synthetic-Surname" not in str(error)
