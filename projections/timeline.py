"""Patient timeline: every event of the patient, kept whole in the journal.

The timeline has no read-model table of its own: its journal is the
timeline, ordered by occurred_at, and recorded_at tells what was known at a
past moment.
"""

from __future__ import annotations

from heals.projections.model import Projection

__all__ = ["TIMELINE", "TIMELINE_EVENTS"]

TIMELINE_EVENTS = frozenset({
    "PatientRegistered", "DemographicsUpdated", "PatientAdmitted", "PatientTransferred", "PatientDischarged",
    "AdmissionCancelled", "DischargeCancelled", "PatientsMerged", "Spo2ScaleAssigned",
    "OrderPlaced", "OrderStatusChanged", "OrderCancelled", "ResultRecorded", "DeviceReadingRecorded",
    "ChargePosted", "ChargeReversed",
})

TIMELINE = Projection(
    name="timeline",
    topic_roles=("adt", "orders", "results", "readings", "charges"),
    event_types=TIMELINE_EVENTS,
    keyed_by="patient_id",
)
