"""Command models: the requests a connector or front end sends to the write side.

Commands are imperative (AdmitPatient); the events they cause are past-tense
facts (PatientAdmitted). Nested models mirror the Avro types of
schemas/avro/common, so a handler copies them into events field by field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AdmitPatient", "CancelAdmission", "CancelDischarge", "CancelOrder", "ChangeOrderStatus", "Code",
    "Command", "CommandSource", "Demographics", "DischargePatient", "Identifier", "Location", "MergePatients",
    "Money", "PlaceOrder", "PostCharge", "Quantity", "RecordResult", "RegisterPatient", "ReverseCharge",
    "AssignSpo2Scale", "TransferPatient", "UpdateDemographics", "COMMAND_TYPES",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Code(_Model):
    """A coded concept: code, code system and display text."""

    code: str = Field(min_length=1)
    system: str | None = None
    display: str | None = None


class Quantity(_Model):
    """A measured amount with its UCUM unit."""

    value: float
    unit: str | None = None
    unit_system: str | None = None


class Identifier(_Model):
    """A patient or visit identifier (HL7 CX)."""

    value: str = Field(min_length=1)
    assigning_authority: str | None = None
    type_code: str | None = None


class Location(_Model):
    """A bed location (HL7 PL)."""

    ward: str | None = None
    room: str | None = None
    bed: str | None = None
    facility: str | None = None


class Money(_Model):
    """An exact amount in an ISO 4217 currency."""

    amount: Decimal
    currency: str = Field(min_length=3, max_length=3)


class Demographics(_Model):
    """Identifying details of a patient; in an update, None or empty means unchanged."""

    family_name: str | None = None
    given_names: list[str] = []
    birth_date: str | None = None
    administrative_sex: str | None = None
    address_lines: list[str] = []
    phones: list[str] = []
    identity_reliability: list[str] = []


class CommandSource(_Model):
    """The origin of a command: the system, and for messages their type and control id."""

    system: str = Field(min_length=1)
    message_type: str | None = None
    message_control_id: str | None = None


class Command(_Model):
    """Fields every command carries."""

    command_id: str = Field(
        min_length=1,
        description="Idempotency key. HL7 input uses sending application|sending facility|MSH-10.",
    )
    tenant_id: str = "default"
    occurred_at: dt.datetime = Field(description="When it happened in the ward, with its UTC offset.")
    occurred_at_offset_minutes: int | None = Field(None, description="UTC offset the source wrote, in minutes.")
    source: CommandSource
    actor: str | None = None
    correlation_id: str | None = Field(None, description="Shared by every command of one inbound request.")

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError(f"occurred_at must carry a UTC offset, got {value.isoformat()}")
        return value


class RegisterPatient(Command):
    """Make a patient known to the hospital."""

    kind: Literal["register_patient"] = "register_patient"
    patient_id: str = Field(min_length=1)
    identifiers: list[Identifier] = []
    demographics: Demographics = Demographics()


class UpdateDemographics(Command):
    """Change a patient's identifying details."""

    kind: Literal["update_demographics"] = "update_demographics"
    patient_id: str = Field(min_length=1)
    identifiers: list[Identifier] = []
    demographics: Demographics = Demographics()
    cleared_fields: list[str] = []
    access_restrictions: list[str] = []


class AdmitPatient(Command):
    """Admit a patient, or register a visit; registers the patient first when unknown."""

    kind: Literal["admit_patient"] = "admit_patient"
    patient_id: str = Field(min_length=1)
    encounter_id: str = Field(min_length=1)
    patient_class: str | None = None
    location: Location = Location()
    visit_number: str | None = None
    admission_type: str | None = None
    attending_doctor: str | None = None
    identifiers: list[Identifier] = []
    demographics: Demographics | None = None


class TransferPatient(Command):
    """Move an admitted patient to another bed location."""

    kind: Literal["transfer_patient"] = "transfer_patient"
    patient_id: str = Field(min_length=1)
    encounter_id: str | None = None
    to_location: Location
    from_location: Location | None = None


class DischargePatient(Command):
    """End an admitted patient's visit."""

    kind: Literal["discharge_patient"] = "discharge_patient"
    patient_id: str = Field(min_length=1)
    encounter_id: str | None = None
    disposition: str | None = None
    discharged_to: str | None = None


class CancelAdmission(Command):
    """Void an admission entered in error."""

    kind: Literal["cancel_admission"] = "cancel_admission"
    patient_id: str = Field(min_length=1)
    encounter_id: str | None = None
    reason: str | None = None


class CancelDischarge(Command):
    """Void a discharge entered in error, reopening the visit."""

    kind: Literal["cancel_discharge"] = "cancel_discharge"
    patient_id: str = Field(min_length=1)
    encounter_id: str | None = None
    reason: str | None = None


class MergePatients(Command):
    """Merge a duplicate patient record into the survivor."""

    kind: Literal["merge_patients"] = "merge_patients"
    survivor_patient_id: str = Field(min_length=1)
    merged_patient_id: str = Field(min_length=1)
    merged_identifiers: list[Identifier] = []


class AssignSpo2Scale(Command):
    """Record which NEWS2 SpO2 scale applies; scale 2 only for confirmed hypercapnic respiratory failure."""

    kind: Literal["assign_spo2_scale"] = "assign_spo2_scale"
    patient_id: str = Field(min_length=1)
    scale: Literal[1, 2]
    reason: str | None = None


class PlaceOrder(Command):
    """Place an order for a service."""

    kind: Literal["place_order"] = "place_order"
    patient_id: str = Field(min_length=1)
    encounter_id: str | None = None
    order_id: str = Field(min_length=1)
    placer_order_number: str = Field(min_length=1)
    filler_order_number: str | None = None
    service: Code
    department: str | None = None
    priority: str | None = None
    ordering_provider: str | None = None
    specimen_count: int = 0


class ChangeOrderStatus(Command):
    """Move an order to a new status."""

    kind: Literal["change_order_status"] = "change_order_status"
    patient_id: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    status: Literal["placed", "scheduled", "in-progress", "completed", "on-hold", "cancelled"]
    hl7_order_control: str | None = None


class CancelOrder(Command):
    """Withdraw an order."""

    kind: Literal["cancel_order"] = "cancel_order"
    patient_id: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    reason: str | None = None


class RecordResult(Command):
    """Record, correct or cancel one observation of an order.

    A result for an unknown order is rejected unless it carries
    placer_order_number and order_service: then it is an unsolicited result
    (an ORU from a lab with no prior order) and the order is placed first.
    """

    kind: Literal["record_result"] = "record_result"
    patient_id: str = Field(min_length=1)
    encounter_id: str | None = None
    order_id: str = Field(min_length=1)
    result_id: str = Field(min_length=1, description="Stable id of the observation within the order.")
    code: Code
    status: Literal["preliminary", "final", "corrected", "cancelled"]
    value_quantity: Quantity | None = None
    value_code: Code | None = None
    value_text: str | None = None
    reference_range: str | None = None
    abnormal_flags: list[str] = []
    placer_order_number: str | None = Field(
        None, description="Placer order number (ORC-2) of an unsolicited result; with order_service, places the order."
    )
    filler_order_number: str | None = Field(None, description="Filler order number (ORC-3) of an unsolicited result.")
    order_service: Code | None = Field(
        None, description="Ordered service (OBR-4) of an unsolicited result; with placer_order_number, places the order."
    )


class PostCharge(Command):
    """Post a chargeable item to an account."""

    kind: Literal["post_charge"] = "post_charge"
    account_id: str = Field(min_length=1)
    patient_id: str = Field(min_length=1)
    encounter_id: str | None = None
    charge_id: str = Field(min_length=1)
    code: Code
    quantity: float = 1.0
    unit_price: Money | None = None
    extended_amount: Money
    department: str | None = None
    modifiers: list[str] = []
    transaction_date: str | None = None


class ReverseCharge(Command):
    """Reverse a posted charge."""

    kind: Literal["reverse_charge"] = "reverse_charge"
    account_id: str = Field(min_length=1)
    patient_id: str = Field(min_length=1)
    charge_id: str = Field(min_length=1, description="Id of the reversal itself.")
    reversed_charge_id: str = Field(min_length=1)
    reason: str | None = None


COMMAND_TYPES: dict[str, type[Command]] = {
    model.model_fields["kind"].default: model
    for model in (
        RegisterPatient, UpdateDemographics, AdmitPatient, TransferPatient, DischargePatient, CancelAdmission,
        CancelDischarge, MergePatients, AssignSpo2Scale, PlaceOrder, ChangeOrderStatus, CancelOrder,
        RecordResult, PostCharge, ReverseCharge,
    )
}
