"""Command handlers: load the aggregates a command names, resolve merged patients, call the rule.

Handlers run inside a UnitOfWork, which keeps every aggregate it loaded for
the whole inbound message, so two commands of one message (the two merge
pairs of an ADT^A40, say) see each other's events before anything is saved.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from heals.commands import models
from heals.commands.account import Account
from heals.commands.aggregate import HealsAggregate
from heals.commands.errors import RuleViolation
from heals.commands.order import Order
from heals.commands.patient import Patient
from heals.commands.store import EventStore, LoadedAggregate

__all__ = ["UnitOfWork", "handle"]

# A chain of merges longer than this is treated as corrupt rather than followed forever.
MAX_MERGE_DEPTH = 32


class UnitOfWork:
    """The aggregates one inbound message reads and changes, with the versions they were loaded at."""

    def __init__(self, store: EventStore, *, use_cache: bool = True) -> None:
        self.store = store
        self.use_cache = use_cache
        self.aggregates: dict[str, HealsAggregate] = {}
        self.loaded_versions: dict[str, int] = {}
        # Aggregates taken from the store's cache -> hash of their last event; the commit checks their versions.
        self.cached_heads: dict[str, str | None] = {}
        self._absent: set[str] = set()
        # Aggregates a rule depends on without writing them; the save fails if they changed meanwhile.
        self.read_only: set[str] = set()
        self._events_returned: dict[str, int] = {}

    def get(self, aggregate_class: type[HealsAggregate], domain_id: str) -> Any:
        """Return the aggregate of a domain id, loaded once per unit of work, or None."""
        key = aggregate_class.key_for(domain_id)
        if key not in self.aggregates and key not in self._absent:
            self._keep(key, self.store.load(aggregate_class, domain_id, use_cache=self.use_cache))
        return self.aggregates.get(key)

    def prefetch(self, commands: Sequence[models.Command]) -> None:
        """Load the aggregates the commands name in one query, so handlers do not read them one by one."""
        named = [
            (aggregate_class, domain_id) for command in commands for aggregate_class, domain_id in _named_aggregates(command)
            if aggregate_class.key_for(domain_id) not in self.aggregates
        ]
        if named:
            for key, loaded in self.store.load_many(named, use_cache=self.use_cache).items():
                self._keep(key, loaded)

    def _keep(self, key: str, loaded: LoadedAggregate | None) -> None:
        # An aggregate found absent stays absent for this unit of work; creating it collides at commit
        # if another writer created it meanwhile.
        if loaded is None:
            self._absent.add(key)
            return
        self.aggregates[key] = loaded.aggregate
        self.loaded_versions[key] = loaded.aggregate.version
        if loaded.cached:
            self.cached_heads[key] = loaded.head_hash

    def add(self, aggregate: HealsAggregate) -> None:
        """Track an aggregate created by this unit of work."""
        self._absent.discard(aggregate.aggregate_key)
        self.aggregates[aggregate.aggregate_key] = aggregate
        self.loaded_versions[aggregate.aggregate_key] = 0

    def depend_on(self, aggregate: HealsAggregate) -> None:
        """Make the save fail with a conflict if this aggregate changes before the commit."""
        self.read_only.add(aggregate.aggregate_key)

    def read_versions(self) -> dict[str, int]:
        """Return the loaded versions of the aggregates this unit of work reads without writing and must verify.

        Those are the aggregates depended on, and every aggregate taken from
        the cache, which may be older than the store.
        """
        return {
            key: self.loaded_versions[key] for key in (self.read_only | self.cached_heads.keys())
            if not self.aggregates[key].pending_events and self.loaded_versions.get(key, 0) > 0
        }

    def take_new_events(self) -> list[tuple[HealsAggregate, Any]]:
        """Return the events triggered since the last call, with their aggregates."""
        new_events = []
        for key, aggregate in self.aggregates.items():
            returned = self._events_returned.get(key, 0)
            pending = aggregate.pending_events
            new_events.extend((aggregate, event) for event in pending[returned:])
            self._events_returned[key] = len(pending)
        return new_events

    def resolve_patient(self, patient_id: str) -> Patient | None:
        """Return the patient a patient id names now: the survivor when the id was merged."""
        patient = self.get(Patient, patient_id)
        depth = 0
        while patient is not None and patient.merged_into is not None:
            depth += 1
            if depth > MAX_MERGE_DEPTH:
                raise RuleViolation(
                    "merge-chain-must-end", f"more than {MAX_MERGE_DEPTH} merges lead from this patient id",
                    aggregate_id=Patient.key_for(patient_id), state="merged", patient_id=patient_id,
                )
            patient = self.get(Patient, patient.merged_into)
        return patient

    def canonical_patient_id(self, patient_id: str) -> str:
        """Return the survivor's id for a merged patient id, else the id itself (known or not)."""
        patient = self.resolve_patient(patient_id)
        return patient.patient_id if patient is not None else patient_id


def _named_aggregates(command: models.Command) -> list[tuple[type[HealsAggregate], str]]:
    # The aggregates a handler loads first; a merged patient's survivor is loaded later, when found.
    named: list[tuple[type[HealsAggregate], str]] = []
    for field, aggregate_class in (
        ("patient_id", Patient), ("survivor_patient_id", Patient), ("merged_patient_id", Patient),
        ("order_id", Order), ("account_id", Account),
    ):
        domain_id = getattr(command, field, None)
        if domain_id:
            named.append((aggregate_class, domain_id))
    return named


def _dump(model: Any) -> Any:
    return model.model_dump(mode="python") if model is not None else None


def _require_patient(uow: UnitOfWork, patient_id: str, rule: str) -> Patient:
    patient = uow.resolve_patient(patient_id)
    if patient is None:
        raise RuleViolation(rule, "the patient is not registered", aggregate_id=Patient.key_for(patient_id),
                            state="unknown", patient_id=patient_id)
    return patient


def _require_order(uow: UnitOfWork, order_id: str, rule: str) -> Order:
    order = uow.get(Order, order_id)
    if order is None:
        raise RuleViolation(rule, "the order was never placed", aggregate_id=Order.key_for(order_id),
                            state="unknown", order_id=order_id)
    return order


# -- patients and encounters -------------------------------------------------

def register_patient(uow: UnitOfWork, command: models.RegisterPatient) -> None:
    if uow.get(Patient, command.patient_id) is not None:
        raise RuleViolation("register-requires-new-patient", "the patient id is registered already",
                            aggregate_id=Patient.key_for(command.patient_id), state="registered",
                            patient_id=command.patient_id)
    uow.add(Patient._create(
        Patient.PatientRegistered, patient_id=command.patient_id,
        identifiers=[_dump(i) for i in command.identifiers], demographics=_dump(command.demographics),
    ))


def update_demographics(uow: UnitOfWork, command: models.UpdateDemographics) -> None:
    patient = _require_patient(uow, command.patient_id, "update-demographics-requires-patient")
    patient.update_demographics(
        identifiers=[_dump(i) for i in command.identifiers], demographics=_dump(command.demographics),
        cleared_fields=list(command.cleared_fields), access_restrictions=list(command.access_restrictions),
    )


def admit_patient(uow: UnitOfWork, command: models.AdmitPatient) -> None:
    patient = uow.resolve_patient(command.patient_id)
    if patient is None:
        # An admission is often the first message about a patient: register them first.
        patient = Patient._create(
            Patient.PatientRegistered, patient_id=command.patient_id,
            identifiers=[_dump(i) for i in command.identifiers],
            demographics=_dump(command.demographics or models.Demographics()),
        )
        uow.add(patient)
    patient.admit(
        command.encounter_id, patient_class=command.patient_class, location=_dump(command.location),
        visit_number=command.visit_number, admission_type=command.admission_type,
        attending_doctor=command.attending_doctor,
    )


def transfer_patient(uow: UnitOfWork, command: models.TransferPatient) -> None:
    rule = "transfer-requires-active-admission"
    patient = _require_patient(uow, command.patient_id, rule)
    patient.transfer(command.encounter_id, to_location=_dump(command.to_location),
                     from_location=_dump(command.from_location))


def discharge_patient(uow: UnitOfWork, command: models.DischargePatient) -> None:
    patient = _require_patient(uow, command.patient_id, "discharge-requires-active-admission")
    patient.discharge(command.encounter_id, disposition=command.disposition, discharged_to=command.discharged_to)


def cancel_admission(uow: UnitOfWork, command: models.CancelAdmission) -> None:
    patient = _require_patient(uow, command.patient_id, "cancel-admission-requires-admission")
    patient.cancel_admission(command.encounter_id, command.reason)


def cancel_discharge(uow: UnitOfWork, command: models.CancelDischarge) -> None:
    patient = _require_patient(uow, command.patient_id, "cancel-discharge-requires-discharge")
    patient.cancel_discharge(command.encounter_id, command.reason)


def assign_spo2_scale(uow: UnitOfWork, command: models.AssignSpo2Scale) -> None:
    patient = _require_patient(uow, command.patient_id, "assign-spo2-scale-requires-patient")
    patient.assign_spo2_scale(command.scale, command.reason)


def merge_patients(uow: UnitOfWork, command: models.MergePatients) -> None:
    # Neither id is resolved: naming a merged id as survivor must be rejected, not redirected.
    patients = []
    for patient_id in (command.survivor_patient_id, command.merged_patient_id):
        patient = uow.get(Patient, patient_id)
        if patient is None:
            raise RuleViolation("merge-requires-registered-patients", "the patient is not registered",
                                aggregate_id=Patient.key_for(patient_id), state="unknown",
                                survivor_patient_id=command.survivor_patient_id,
                                merged_patient_id=command.merged_patient_id)
        patients.append(patient)
    survivor, merged = patients
    survivor.merge(merged, [_dump(i) for i in command.merged_identifiers])


# -- orders and results ------------------------------------------------------

def place_order(uow: UnitOfWork, command: models.PlaceOrder) -> None:
    if uow.get(Order, command.order_id) is not None:
        raise RuleViolation("place-order-requires-new-order-id", "the order id was placed before",
                            aggregate_id=Order.key_for(command.order_id), state="placed", order_id=command.order_id)
    uow.add(Order._create(
        Order.OrderPlaced, patient_id=uow.canonical_patient_id(command.patient_id),
        encounter_id=command.encounter_id, order_id=command.order_id,
        placer_order_number=command.placer_order_number, filler_order_number=command.filler_order_number,
        service=_dump(command.service), department=command.department, priority=command.priority,
        ordering_provider=command.ordering_provider, specimen_count=command.specimen_count,
    ))


def change_order_status(uow: UnitOfWork, command: models.ChangeOrderStatus) -> None:
    order = _require_order(uow, command.order_id, "order-status-requires-placed-order")
    order.change_status(uow.canonical_patient_id(command.patient_id), command.status, command.hl7_order_control)


def cancel_order(uow: UnitOfWork, command: models.CancelOrder) -> None:
    order = _require_order(uow, command.order_id, "cancel-order-requires-placed-order")
    order.cancel(uow.canonical_patient_id(command.patient_id), command.reason)


def record_result(uow: UnitOfWork, command: models.RecordResult) -> None:
    patient_id = uow.canonical_patient_id(command.patient_id)
    order = uow.get(Order, command.order_id)
    if order is None:
        if command.placer_order_number is None or command.order_service is None:
            raise RuleViolation(
                "result-requires-placed-order",
                "the order was never placed; an unsolicited result needs placer_order_number and order_service",
                aggregate_id=Order.key_for(command.order_id), state="unknown", order_id=command.order_id,
            )
        order = Order._create(
            Order.OrderPlaced, patient_id=patient_id, encounter_id=command.encounter_id, order_id=command.order_id,
            placer_order_number=command.placer_order_number, filler_order_number=command.filler_order_number,
            service=_dump(command.order_service), department=None, priority=None, ordering_provider=None,
            specimen_count=0,
        )
        uow.add(order)
    order.record_result(
        command.result_id, command.status, patient_id=patient_id, encounter_id=command.encounter_id,
        code=_dump(command.code), value_quantity=_dump(command.value_quantity), value_code=_dump(command.value_code),
        value_text=command.value_text, reference_range=command.reference_range,
        abnormal_flags=list(command.abnormal_flags),
    )


# -- billing -----------------------------------------------------------------

def post_charge(uow: UnitOfWork, command: models.PostCharge) -> None:
    account = uow.get(Account, command.account_id)
    patient = uow.resolve_patient(command.patient_id)
    patient_id = patient.patient_id if patient is not None else command.patient_id

    # The account is closed while the encounter it bills for is discharged or cancelled. A discharge
    # committed after this read must fail the charge's save, so the charge depends on the patient.
    if patient is not None:
        uow.depend_on(patient)
    encounter_id = (account.encounter_id if account is not None else None) or command.encounter_id
    status = patient.encounter_status(encounter_id) if patient is not None and encounter_id else None
    Account.require_open(command.account_id, encounter_id, status, command.charge_id)

    details = {
        "patient_id": patient_id, "code": _dump(command.code), "quantity": command.quantity,
        "unit_price": _dump(command.unit_price), "extended_amount": _dump(command.extended_amount),
        "department": command.department, "modifiers": list(command.modifiers),
        "transaction_date": command.transaction_date,
    }
    if account is None:
        uow.add(Account._create(
            Account.AccountOpenedByCharge, account_id=command.account_id, encounter_id=command.encounter_id,
            charge_id=command.charge_id, **details,
        ))
        return
    account.post_charge(command.charge_id, command.encounter_id, **details)


def reverse_charge(uow: UnitOfWork, command: models.ReverseCharge) -> None:
    account = uow.get(Account, command.account_id)
    if account is None:
        raise RuleViolation("reversal-requires-posted-charge", "the account has no charges",
                            aggregate_id=Account.key_for(command.account_id), state="unknown",
                            account_id=command.account_id, reversed_charge_id=command.reversed_charge_id)
    account.reverse_charge(uow.canonical_patient_id(command.patient_id), command.charge_id,
                           command.reversed_charge_id, command.reason)


HANDLERS: dict[type[models.Command], Callable[[UnitOfWork, Any], None]] = {
    models.RegisterPatient: register_patient,
    models.UpdateDemographics: update_demographics,
    models.AdmitPatient: admit_patient,
    models.TransferPatient: transfer_patient,
    models.DischargePatient: discharge_patient,
    models.CancelAdmission: cancel_admission,
    models.CancelDischarge: cancel_discharge,
    models.AssignSpo2Scale: assign_spo2_scale,
    models.MergePatients: merge_patients,
    models.PlaceOrder: place_order,
    models.ChangeOrderStatus: change_order_status,
    models.CancelOrder: cancel_order,
    models.RecordResult: record_result,
    models.PostCharge: post_charge,
    models.ReverseCharge: reverse_charge,
}


def handle(uow: UnitOfWork, command: models.Command) -> None:
    """Apply one command to the aggregates of the unit of work; raise RuleViolation when a rule forbids it."""
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"no handler for command type {type(command).__name__}")
    handler(uow, command)
