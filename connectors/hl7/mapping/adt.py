"""ADT messages to patient and encounter commands, one table row per trigger event."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from heals.commands.models import (
    AdmitPatient, CancelAdmission, CancelDischarge, Command, DischargePatient, MergePatients,
    RegisterPatient, TransferPatient, UpdateDemographics,
)
from heals.connectors.hl7.errors import ErrorCode, ErrorLocation, MessageInvalid, MessageRejected
from heals.connectors.hl7.mapping.context import MappingContext
from heals.connectors.hl7.mapping.demographics import cleared_fields, demographics_from_pid

__all__ = ["ADT_TRIGGERS", "map_adt"]

logger = logging.getLogger(__name__)

# Where the time of each trigger's event is read, before MSH-7: EVN-6 event
# occurred, then the visit's own admit (PV1-44) or discharge (PV1-45) time,
# then EVN-2 recorded date/time.
ADMIT_TIME = (("EVN", 6), ("PV1", 44), ("EVN", 2))
DISCHARGE_TIME = (("EVN", 6), ("PV1", 45), ("EVN", 2))
EVENT_TIME = (("EVN", 6), ("EVN", 2))


def _admit(context: MappingContext) -> list[Command]:
    pid, pv1 = context.require("PID"), context.message.first("PV1")
    patient_id, identifiers = context.patient_key(pid)
    occurred = context.event_time(ADMIT_TIME)
    return [context.command(
        AdmitPatient, "admit", occurred,
        patient_id=patient_id,
        encounter_id=context.encounter_id(pv1, patient_id, required=True),
        patient_class=pv1.value(2) if pv1 else None,
        location=context.location(pv1, 3) or AdmitPatient.model_fields["location"].default,
        visit_number=pv1.value(19) if pv1 else None,
        admission_type=pv1.value(4) if pv1 else None,
        attending_doctor=pv1.value(7) if pv1 else None,
        identifiers=identifiers,
        demographics=demographics_from_pid(context, pid),
    )]


def _transfer(context: MappingContext) -> list[Command]:
    pid, pv1 = context.require("PID"), context.require("PV1")
    patient_id, _ = context.patient_key(pid)
    to_location = context.location(pv1, 3)
    if to_location is None:
        raise MessageInvalid(ErrorCode.REQUIRED_FIELD_MISSING, "PV1-3 assigned patient location is empty", pv1.location(3))
    return [context.command(
        TransferPatient, "transfer", context.event_time(EVENT_TIME),
        patient_id=patient_id,
        encounter_id=context.encounter_id(pv1, patient_id, required=False),
        to_location=to_location,
        from_location=context.location(pv1, 6),
    )]


def _discharge(context: MappingContext) -> list[Command]:
    pid, pv1 = context.require("PID"), context.message.first("PV1")
    patient_id, _ = context.patient_key(pid)
    return [context.command(
        DischargePatient, "discharge", context.event_time(DISCHARGE_TIME),
        patient_id=patient_id,
        encounter_id=context.encounter_id(pv1, patient_id, required=False),
        disposition=pv1.value(36) if pv1 else None,
        discharged_to=pv1.value(37) if pv1 else None,
    )]


def _update(context: MappingContext) -> list[Command]:
    pid = context.require("PID")
    patient_id, identifiers = context.patient_key(pid)
    restrictions = [
        code for arv in context.message.all("ARV")
        if (arv.value(2) or "A").upper() in ("A", "U")
        for code in [arv.value(3)] if code
    ]
    return [context.command(
        UpdateDemographics, "update-demographics", context.event_time(EVENT_TIME),
        patient_id=patient_id,
        identifiers=identifiers,
        demographics=demographics_from_pid(context, pid),
        cleared_fields=cleared_fields(pid),
        access_restrictions=restrictions,
    )]


def _register(context: MappingContext) -> list[Command]:
    pid = context.require("PID")
    patient_id, identifiers = context.patient_key(pid)
    return [context.command(
        RegisterPatient, "register", context.event_time(EVENT_TIME),
        patient_id=patient_id, identifiers=identifiers, demographics=demographics_from_pid(context, pid),
    )]


def _cancel(model: type[Command], suffix: str) -> Callable[[MappingContext], list[Command]]:
    def build(context: MappingContext) -> list[Command]:
        pid, pv1 = context.require("PID"), context.message.first("PV1")
        patient_id, _ = context.patient_key(pid)
        evn = context.message.first("EVN")
        return [context.command(
            model, suffix, context.event_time(EVENT_TIME),
            patient_id=patient_id,
            encounter_id=context.encounter_id(pv1, patient_id, required=False),
            reason=evn.value(4) if evn else None,
        )]
    return build


def _merge(context: MappingContext) -> list[Command]:
    # ADT^A40 carries one or more PID/MRG pairs; PD1 and PV1 may sit between them.
    pairs = []
    current_pid = None
    for segment in context.message:
        if segment.name == "PID":
            if current_pid is not None:
                raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, "PID without a following MRG", current_pid.location())
            current_pid = segment
        elif segment.name == "MRG":
            if current_pid is None:
                raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, "MRG without a preceding PID", segment.location())
            pairs.append((current_pid, segment))
            current_pid = None
    if current_pid is not None or not pairs:
        raise MessageInvalid(ErrorCode.SEGMENT_SEQUENCE, "ADT^A40 needs a PID and MRG pair", ErrorLocation("MRG"))

    occurred = context.event_time(EVENT_TIME)
    commands: list[Command] = []
    for pid, mrg in pairs:
        survivor, _ = context.patient_key(pid)
        merged, merged_identifiers = context.patient_key(mrg, 1)
        if survivor == merged:
            raise MessageInvalid(ErrorCode.DUPLICATE_KEY_IDENTIFIER, "PID-3 and MRG-1 name the same patient", mrg.location(1))
        commands.append(context.command(
            MergePatients, "merge", occurred,
            survivor_patient_id=survivor, merged_patient_id=merged, merged_identifiers=merged_identifiers,
        ))
    return commands


@dataclass(frozen=True)
class AdtMapping:
    """What one ADT trigger event becomes."""

    meaning: str
    build: Callable[[MappingContext], list[Command]]


ADT_TRIGGERS: dict[str, AdtMapping] = {
    "A01": AdtMapping("admit / visit notification", _admit),
    "A02": AdtMapping("transfer a patient", _transfer),
    "A03": AdtMapping("discharge / end visit", _discharge),
    "A04": AdtMapping("register a patient (outpatient or emergency visit)", _admit),
    "A08": AdtMapping("update patient information", _update),
    "A11": AdtMapping("cancel admit / visit notification", _cancel(CancelAdmission, "cancel-admission")),
    "A13": AdtMapping("cancel discharge / end visit", _cancel(CancelDischarge, "cancel-discharge")),
    "A28": AdtMapping("add person information", _register),
    "A31": AdtMapping("update person information", _update),
    "A40": AdtMapping("merge patient, patient identifier list", _merge),
}


def map_adt(context: MappingContext) -> list[Command]:
    """Map an ADT message by its MSH-9 trigger event; EVN-1 only gets a warning when it differs."""
    trigger = context.message.trigger_event
    mapping = ADT_TRIGGERS.get(trigger)
    if mapping is None:
        raise MessageRejected(ErrorCode.UNSUPPORTED_EVENT_CODE, f"ADT trigger event {trigger!r} is not supported", context.message.msh.location(9, 2))
    evn = context.message.first("EVN")
    evn_trigger = evn.value(1) if evn else None
    if evn_trigger and evn_trigger.upper() != trigger:
        logger.warning("message %s: EVN-1 %s differs from MSH-9 trigger %s; MSH-9 is used", context.message.control_id, evn_trigger, trigger)
    return mapping.build(context)
