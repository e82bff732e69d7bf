"""The Patient aggregate: registration, demographics, encounters (visits) and merges.

Encounter states and the commands that move between them:

    (none) --admit--> admitted --discharge--> discharged
    admitted --cancel admission--> cancelled
    discharged --cancel discharge--> admitted

A patient has at most one admitted encounter. A merged patient keeps its
history but takes no more commands. The command handlers resolve its id to
the survivor, which carries both patients' encounters from the merge on.
"""

from __future__ import annotations

import uuid
from typing import Any

from heals.commands.aggregate import HealsAggregate
from heals.commands.errors import RuleViolation

__all__ = ["Patient", "ADMITTED", "DISCHARGED", "CANCELLED"]

ADMITTED = "admitted"
DISCHARGED = "discharged"
CANCELLED = "cancelled"


class Patient(HealsAggregate):
    """A person known to the hospital, with every encounter recorded for them."""

    KIND = "patient"

    @staticmethod
    def create_id(patient_id: str) -> uuid.UUID:
        return Patient.uuid_for(patient_id)

    class PatientRegistered(HealsAggregate.Created):
        patient_id: str
        identifiers: list[dict[str, Any]]
        demographics: dict[str, Any]

    def __init__(self, patient_id: str, identifiers: list[dict[str, Any]], demographics: dict[str, Any]) -> None:
        self.domain_id = patient_id
        # encounter id -> ADMITTED, DISCHARGED or CANCELLED, in the order the encounters began.
        self.encounters: dict[str, str] = {}
        self.merged_into: str | None = None
        self.merged_patient_ids: list[str] = []
        self.spo2_scale = 1

    @property
    def patient_id(self) -> str:
        """The patient id this aggregate was registered under."""
        return self.domain_id

    @property
    def state(self) -> str:
        """A short description of the patient's state for error messages."""
        if self.merged_into is not None:
            return f"merged into {self.merged_into}"
        active = self.active_encounter_id
        return f"admitted in encounter {active}" if active else "not admitted"

    @property
    def active_encounter_id(self) -> str | None:
        """The encounter the patient is admitted in, or None."""
        for encounter_id, status in self.encounters.items():
            if status == ADMITTED:
                return encounter_id
        return None

    def encounter_status(self, encounter_id: str) -> str | None:
        """Return ADMITTED, DISCHARGED or CANCELLED, or None for an encounter this patient never had."""
        return self.encounters.get(encounter_id)

    # -- commands -----------------------------------------------------------

    class DemographicsUpdated(HealsAggregate.Event):
        patient_id: str
        identifiers: list[dict[str, Any]]
        demographics: dict[str, Any]
        cleared_fields: list[str]
        access_restrictions: list[str]

    def update_demographics(self, **details: Any) -> None:
        """Record new identifying details."""
        self._require_not_merged("update-demographics")
        self.trigger_event(self.DemographicsUpdated, patient_id=self.patient_id, **details)

    class PatientAdmitted(HealsAggregate.Event):
        patient_id: str
        encounter_id: str
        patient_class: str | None
        location: dict[str, Any]
        visit_number: str | None
        admission_type: str | None
        attending_doctor: str | None

        def apply(self, patient: Patient) -> None:
            patient.encounters[self.encounter_id] = ADMITTED

    def admit(self, encounter_id: str, **details: Any) -> None:
        """Admit the patient in a new encounter."""
        rule = "admit-requires-no-active-admission"
        self._require_not_merged(rule)
        if self.active_encounter_id is not None:
            raise RuleViolation(
                rule, "the patient is already admitted", aggregate_id=self.aggregate_key, state=self.state,
                patient_id=self.patient_id, encounter_id=encounter_id,
            )
        if encounter_id in self.encounters:
            raise RuleViolation(
                "admit-requires-new-encounter", "the encounter id was used before",
                aggregate_id=self.aggregate_key, state=f"encounter {encounter_id} {self.encounters[encounter_id]}",
                patient_id=self.patient_id, encounter_id=encounter_id,
            )
        self.trigger_event(self.PatientAdmitted, patient_id=self.patient_id, encounter_id=encounter_id, **details)

    class PatientTransferred(HealsAggregate.Event):
        patient_id: str
        encounter_id: str
        from_location: dict[str, Any] | None
        to_location: dict[str, Any]

    def transfer(self, encounter_id: str | None, **details: Any) -> None:
        """Move the admitted patient to another bed location."""
        active = self._require_active_admission("transfer-requires-active-admission", encounter_id)
        self.trigger_event(self.PatientTransferred, patient_id=self.patient_id, encounter_id=active, **details)

    class PatientDischarged(HealsAggregate.Event):
        patient_id: str
        encounter_id: str
        disposition: str | None
        discharged_to: str | None

        def apply(self, patient: Patient) -> None:
            patient.encounters[self.encounter_id] = DISCHARGED

    def discharge(self, encounter_id: str | None, **details: Any) -> None:
        """End the admitted encounter."""
        active = self._require_active_admission("discharge-requires-active-admission", encounter_id)
        self.trigger_event(self.PatientDischarged, patient_id=self.patient_id, encounter_id=active, **details)

    class AdmissionCancelled(HealsAggregate.Event):
        patient_id: str
        encounter_id: str
        reason: str | None

        def apply(self, patient: Patient) -> None:
            patient.encounters[self.encounter_id] = CANCELLED

    def cancel_admission(self, encounter_id: str | None, reason: str | None) -> None:
        """Void the admitted encounter (HL7 A11); a discharged one needs its discharge cancelled first."""
        active = self._require_active_admission("cancel-admission-requires-admission", encounter_id)
        self.trigger_event(self.AdmissionCancelled, patient_id=self.patient_id, encounter_id=active, reason=reason)

    class DischargeCancelled(HealsAggregate.Event):
        patient_id: str
        encounter_id: str
        reason: str | None

        def apply(self, patient: Patient) -> None:
            patient.encounters[self.encounter_id] = ADMITTED

    def cancel_discharge(self, encounter_id: str | None, reason: str | None) -> None:
        """Reopen a discharged encounter (HL7 A13): the named one, or else the latest discharged one."""
        rule = "cancel-discharge-requires-discharge"
        self._require_not_merged(rule)
        if encounter_id is None:
            discharged = [e for e, status in self.encounters.items() if status == DISCHARGED]
            encounter_id = discharged[-1] if discharged else None
        if encounter_id is None or self.encounters.get(encounter_id) != DISCHARGED:
            state = f"encounter {encounter_id} {self.encounters.get(encounter_id, 'unknown')}" if encounter_id else self.state
            raise RuleViolation(
                rule, "there is no such discharge to cancel", aggregate_id=self.aggregate_key, state=state,
                patient_id=self.patient_id, encounter_id=encounter_id,
            )
        if self.active_encounter_id is not None:
            raise RuleViolation(
                "cancel-discharge-requires-no-active-admission",
                "reopening the encounter would give the patient two active admissions",
                aggregate_id=self.aggregate_key, state=self.state, patient_id=self.patient_id, encounter_id=encounter_id,
            )
        self.trigger_event(self.DischargeCancelled, patient_id=self.patient_id, encounter_id=encounter_id, reason=reason)

    class Spo2ScaleAssigned(HealsAggregate.Event):
        patient_id: str
        scale: int
        reason: str | None

        def apply(self, patient: Patient) -> None:
            patient.spo2_scale = self.scale

    def assign_spo2_scale(self, scale: int, reason: str | None) -> None:
        """Record which NEWS2 SpO2 scale applies to the patient."""
        self._require_not_merged("assign-spo2-scale")
        self.trigger_event(self.Spo2ScaleAssigned, patient_id=self.patient_id, scale=scale, reason=reason)

    # -- merges -------------------------------------------------------------

    class PatientsMerged(HealsAggregate.Event):
        """Recorded on both records of a merge; only the survivor's copy carries the merged encounters."""

        patient_id: str
        survivor_patient_id: str
        merged_patient_id: str
        merged_identifiers: list[dict[str, Any]]
        merged_encounters: dict[str, str]

        def apply(self, patient: Patient) -> None:
            if patient.patient_id == self.merged_patient_id:
                patient.merged_into = self.survivor_patient_id
                return
            patient.merged_patient_ids.append(self.merged_patient_id)
            for encounter_id, status in self.merged_encounters.items():
                patient.encounters.setdefault(encounter_id, status)

    def merge(self, merged: Patient, merged_identifiers: list[dict[str, Any]]) -> None:
        """Absorb a duplicate record: this patient survives, the other resolves to it from now on."""
        rule = "merge-requires-distinct-unmerged-patients"
        ids = {"survivor_patient_id": self.patient_id, "merged_patient_id": merged.patient_id}
        if merged.patient_id == self.patient_id:
            raise RuleViolation(rule, "a patient cannot be merged into itself",
                                aggregate_id=self.aggregate_key, state=self.state, **ids)
        if self.merged_into is not None:
            raise RuleViolation(rule, "the survivor was itself merged before, so the merge would create a cycle",
                                aggregate_id=self.aggregate_key, state=self.state, **ids)
        if merged.merged_into is not None:
            raise RuleViolation(rule, "the merged patient was already merged",
                                aggregate_id=merged.aggregate_key, state=merged.state, **ids)
        collisions = sorted(set(merged.encounters) & set(self.encounters))
        if collisions:
            raise RuleViolation("merge-requires-distinct-encounters", "both patients have the same encounter id",
                                aggregate_id=self.aggregate_key, state=self.state, encounter_id=collisions[0], **ids)

        common = {
            "patient_id": self.patient_id,
            "survivor_patient_id": self.patient_id,
            "merged_patient_id": merged.patient_id,
            "merged_identifiers": merged_identifiers,
        }
        self.trigger_event(self.PatientsMerged, merged_encounters=dict(merged.encounters), **common)
        merged.trigger_event(merged.PatientsMerged, merged_encounters={}, **common)

    # -- checks -------------------------------------------------------------

    def _require_not_merged(self, rule: str) -> None:
        if self.merged_into is not None:
            raise RuleViolation(
                rule, "the patient record was merged; send the command for the survivor",
                aggregate_id=self.aggregate_key, state=self.state, patient_id=self.patient_id,
            )

    def _require_active_admission(self, rule: str, encounter_id: str | None) -> str:
        self._require_not_merged(rule)
        active = self.active_encounter_id
        if active is None or (encounter_id is not None and encounter_id != active):
            raise RuleViolation(
                rule, "the patient has no such active admission", aggregate_id=self.aggregate_key,
                state=self.state, patient_id=self.patient_id, encounter_id=encounter_id,
            )
        return active
