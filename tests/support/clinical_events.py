"""Synthetic clinical events for projection tests and benchmarks.

Every patient, order and account here is made up. Events are built as the
write side would: each aggregate numbers its events from 1 and chains their
hashes, and occurred_at is whatever the caller says happened in the ward.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from heals.envelope import new_envelope, seal

__all__ = ["EventFactory", "BASE_TIME"]

BASE_TIME = dt.datetime(2026, 12, 4, 6, 0, tzinfo=dt.timezone.utc)


class EventFactory:
    """Builds (event_type, value) pairs with per-aggregate versions and hash chains."""

    def __init__(self, source_system: str = "TEST^HOSP", recorded_at: dt.datetime | None = None) -> None:
        self.versions: dict[str, int] = {}
        self.hashes: dict[str, str | None] = {}
        self.recorded_at = recorded_at
        self.source_system = source_system

    def _event(self, event_type: str, aggregate_id: str, patient_id: str | None, occurred_at: dt.datetime,
               encounter_id: str | None = None, recorded_at: dt.datetime | None = None, **fields: Any) -> tuple[str, dict]:
        version = self.versions.get(aggregate_id, 0) + 1
        self.versions[aggregate_id] = version
        envelope = new_envelope(
            event_type=event_type, tenant_id="default", patient_id=patient_id, aggregate_id=aggregate_id,
            aggregate_version=version, occurred_at=occurred_at, source_system=self.source_system,
            correlation_id=str(uuid.uuid4()), encounter_id=encounter_id,
            recorded_at=recorded_at or self.recorded_at or occurred_at + dt.timedelta(seconds=30),
        )
        value = seal({"envelope": envelope, **fields}, self.hashes.get(aggregate_id))
        self.hashes[aggregate_id] = value["envelope"]["hash"]
        return event_type, value

    # -- ADT -----------------------------------------------------------------

    def register(self, patient_id: str, at: dt.datetime, family: str = "Testperson", mrn: str | None = None, **kw: Any):
        identifiers = [{"value": mrn or f"MRN-{patient_id}", "assigning_authority": "HOSP", "type_code": "MR"}]
        demographics = {"family_name": family, "given_names": ["Alex"], "birth_date": "1970-01-01",
                        "administrative_sex": "U", "address_lines": [], "phones": [], "identity_reliability": []}
        return self._event("PatientRegistered", patient_id, patient_id, at, identifiers=identifiers,
                           demographics=demographics, **kw)

    def update_phone(self, patient_id: str, at: dt.datetime, phone: str, **kw: Any):
        demographics = {"family_name": None, "given_names": [], "birth_date": None, "administrative_sex": None,
                        "address_lines": [], "phones": [phone], "identity_reliability": []}
        return self._event("DemographicsUpdated", patient_id, patient_id, at, identifiers=[], demographics=demographics,
                           cleared_fields=[], access_restrictions=[], **kw)

    def admit(self, patient_id: str, encounter_id: str, at: dt.datetime, ward: str, room: str, bed: str, **kw: Any):
        return self._event("PatientAdmitted", patient_id, patient_id, at, encounter_id=encounter_id, patient_class="I",
                           location={"ward": ward, "room": room, "bed": bed, "facility": "HOSP"},
                           visit_number=f"V-{encounter_id}", admission_type="E", attending_doctor="DR-1", **kw)

    def transfer(self, patient_id: str, encounter_id: str, at: dt.datetime, ward: str, room: str, bed: str, **kw: Any):
        return self._event("PatientTransferred", patient_id, patient_id, at, encounter_id=encounter_id,
                           from_location=None, to_location={"ward": ward, "room": room, "bed": bed, "facility": "HOSP"},
                           **kw)

    def discharge(self, patient_id: str, encounter_id: str, at: dt.datetime, **kw: Any):
        return self._event("PatientDischarged", patient_id, patient_id, at, encounter_id=encounter_id,
                           disposition="01", discharged_to="HOME", **kw)

    def merge(self, survivor_id: str, merged_id: str, at: dt.datetime, **kw: Any):
        return self._event("PatientsMerged", survivor_id, survivor_id, at, survivor_patient_id=survivor_id,
                           merged_patient_id=merged_id, merged_identifiers=[], **kw)

    # -- orders and results --------------------------------------------------

    def place_order(self, patient_id: str, order_id: str, at: dt.datetime, department: str = "LAB",
                    code: str = "2345-7", **kw: Any):
        return self._event("OrderPlaced", order_id, patient_id, at, order_id=order_id, placer_order_number=f"P-{order_id}",
                           filler_order_number=None, service={"code": code, "system": "http://loinc.org", "display": None},
                           department=department, priority="R", ordering_provider="DR-1", specimen_count=1, **kw)

    def change_order(self, patient_id: str, order_id: str, at: dt.datetime, status: str, **kw: Any):
        return self._event("OrderStatusChanged", order_id, patient_id, at, order_id=order_id, status=status,
                           previous_status=None, hl7_order_control="SC", **kw)

    def record_result(self, patient_id: str, order_id: str, result_id: str, at: dt.datetime, value: float,
                      status: str = "final", flags: tuple[str, ...] = (), code: str = "2345-7", **kw: Any):
        return self._event("ResultRecorded", order_id, patient_id, at, order_id=order_id, result_id=result_id,
                           code={"code": code, "system": "http://loinc.org", "display": "Glucose"}, status=status,
                           value_quantity={"value": value, "unit": "mg/dL", "unit_system": None}, value_code=None,
                           value_text=None, reference_range="70-99", abnormal_flags=list(flags),
                           corrects_event_id=None, **kw)

    # -- devices and billing -------------------------------------------------

    def reading(self, patient_id: str, at: dt.datetime, code: str, value: float, unit: str = "/min",
                device_id: str = "MON-1", **kw: Any):
        return self._event("DeviceReadingRecorded", device_id, patient_id, at, device_id=device_id,
                           code={"code": code, "system": "urn:iso:std:iso:11073:10101", "display": None},
                           value_quantity={"value": value, "unit": unit, "unit_system": None}, value_code=None,
                           value_text=None, bound_to_patient=True, **kw)

    def post_charge(self, patient_id: str, account_id: str, charge_id: str, at: dt.datetime, amount: str, **kw: Any):
        money = {"amount": Decimal(amount).quantize(Decimal("0.0001")), "currency": "USD"}
        return self._event("ChargePosted", account_id, patient_id, at, account_id=account_id, charge_id=charge_id,
                           code={"code": "80048", "system": "CPT", "display": None}, quantity=1.0, unit_price=money,
                           extended_amount=money, department="LAB", modifiers=[], transaction_date=at.date().isoformat(),
                           **kw)

    def reverse_charge(self, patient_id: str, account_id: str, charge_id: str, reversed_charge_id: str,
                       at: dt.datetime, **kw: Any):
        return self._event("ChargeReversed", account_id, patient_id, at, account_id=account_id, charge_id=charge_id,
                           reversed_charge_id=reversed_charge_id, reason="entered in error", **kw)


def hospital_morning(factory: EventFactory | None = None) -> list[tuple[str, dict]]:
    """Return a morning of one small hospital, in the order the events happened.

    P1 is admitted and moved; P2 is admitted and discharged; P3 is a duplicate
    registration of P1 that gets merged into P1; P4 is admitted and changes
    phone number. Orders, results with a correction, readings and charges
    with one reversal go with them.
    """
    f = factory or EventFactory()

    def at(hour: int, minute: int = 0) -> dt.datetime:
        return BASE_TIME.replace(hour=hour, minute=minute)

    return [
        f.register("P1", at(6, 50)),
        f.register("P2", at(6, 55)),
        f.register("P3", at(6, 58), mrn="MRN-P3"),
        f.register("P4", at(6, 59)),
        f.admit("P1", "E1", at(7), "W1", "101", "A"),
        f.reading("P1", at(7), "HR", 80),
        f.place_order("P1", "O1", at(7, 10), department="LAB", code="2345-7"),
        f.place_order("P1", "O2", at(7, 20), department="RAD", code="36643-5"),
        f.admit("P2", "E2", at(7, 30), "W1", "102", "A"),
        f.admit("P4", "E4", at(7, 35), "W3", "301", "A"),
        f.change_order("P1", "O1", at(7, 40), "in-progress"),
        f.place_order("P3", "O3", at(8), department="LAB", code="2823-3"),
        f.place_order("P2", "O4", at(8, 5), department="LAB", code="2345-7"),
        f.reading("P1", at(8), "HR", 90),
        f.reading("P1", at(8), "SPO2", 97, unit="%"),
        f.reading("P4", at(8, 10), "HR", 70, device_id="MON-4"),
        f.change_order("P1", "O1", at(8, 30), "completed"),
        f.record_result("P1", "O1", "R1", at(8, 30), 300, flags=("HH",)),
        f.record_result("P1", "O1", "R2", at(8, 30), 4.1, flags=("N",), code="2823-3"),
        f.post_charge("P1", "A1", "C1", at(8, 35), "12.50"),
        f.post_charge("P1", "A1", "C2", at(8, 36), "7.50"),
        f.record_result("P1", "O1", "R1", at(8, 45), 310, status="corrected", flags=("HH",)),
        f._event("OrderCancelled", "O4", "P2", at(8, 50), order_id="O4", reason="duplicate"),
        f.transfer("P1", "E1", at(9), "W2", "201", "B"),
        f.reading("P1", at(9), "HR", 100),
        f.reverse_charge("P1", "A1", "C3", "C1", at(9, 10)),
        f.post_charge("P2", "A2", "C4", at(9, 20), "100.00"),
        f.update_phone("P4", at(9, 30), "+1-555-0100"),
        f.merge("P1", "P3", at(10)),
        f.discharge("P2", "E2", at(11)),
    ]
