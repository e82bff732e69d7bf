"""The topic catalogue: every HEALS topic with its key, partitions and retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from heals.settings import Settings

__all__ = ["Topic", "TOPICS", "topic_catalogue", "dead_letter_topic", "DAY_MS"]

logger = logging.getLogger(__name__)

DAY_MS = 24 * 60 * 60 * 1000
FOREVER = -1


@dataclass(frozen=True)
class Topic:
    """One Kafka topic as HEALS creates and expects it."""

    name: str
    key: str
    description: str
    event_types: tuple[str, ...] = ()
    retention_ms: int = FOREVER
    cleanup_policy: str = "delete"
    partitions: int | None = None

    def config(self) -> dict[str, str]:
        """Return the topic-level configuration to create or compare."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


ADT = Topic(
    "clinical.adt.v1",
    "patient id",
    "Registrations, admissions, transfers, discharges, cancellations and merges.",
    ("PatientRegistered", "DemographicsUpdated", "PatientAdmitted", "PatientTransferred", "PatientDischarged",
     "AdmissionCancelled", "DischargeCancelled", "PatientsMerged", "Spo2ScaleAssigned"),
)
ORDERS = Topic(
    "clinical.orders.v1", "patient id", "Orders placed, changed and cancelled.",
    ("OrderPlaced", "OrderStatusChanged", "OrderCancelled"),
)
RESULTS = Topic(
    "clinical.results.v1", "patient id", "Results recorded, corrected and cancelled.", ("ResultRecorded",)
)
READINGS = Topic(
    "devices.readings.v1", "patient id, or device id while unbound",
    "Vital-sign and device observations.", ("DeviceReadingRecorded",),
)
CHARGES = Topic(
    "billing.charges.v1", "account id", "Charges posted and reversed.", ("ChargePosted", "ChargeReversed")
)
RFID_READS = Topic("rfid.reads.v1", "tag id", "Raw RFID tag reads.")
LOCATIONS = Topic("locations.v1", "tag id", "Location changes derived from RFID reads.")
ALERTS = Topic(
    "clinical.alerts.v1", "patient id", "Early-warning scores, anomalies, critical results and their handling.",
    ("EarlyWarningScoreChanged", "AnomalyDetected", "CriticalResultRaised", "AlertAcknowledged", "AlertEscalated",
     "AlertResolved"),
)
AUDIT = Topic("audit.access.v1", "patient id", "Who read or exported which patient's data, when and why.")

TOPICS: tuple[Topic, ...] = (ADT, ORDERS, RESULTS, READINGS, CHARGES, RFID_READS, LOCATIONS, ALERTS, AUDIT)


def dead_letter_topic(name: str) -> str:
    """Return the dead-letter topic of a source topic or component, for example dlq.hl7."""
    return f"dlq.{name}"


def topic_catalogue(settings: Settings) -> tuple[Topic, ...]:
    """Return every topic HEALS needs, with the deployment's retention for raw archives."""
    raw_retention = FOREVER if settings.raw_retention_days == -1 else settings.raw_retention_days * DAY_MS
    raw = Topic(
        "hl7.inbound.raw.v1", "sending facility and control id",
        "Every inbound HL7 message byte for byte, with its ACK.", ("InboundMessageReceived",),
        retention_ms=raw_retention,
    )
    dead_letters = tuple(
        Topic(dead_letter_topic(name), "as the source", f"Records that could not be processed from {name}.",
              ("DeadLetterParked",))
        for name in ("hl7", "fhir", *(t.name for t in TOPICS))
    )
    return (*TOPICS, raw, *dead_letters)


def topic_for_event(event_type: str) -> Topic:
    """Return the topic that carries an event type."""
    for topic in TOPICS:
        if event_type in topic.event_types:
            return topic
    raise KeyError(f"no topic carries event type {event_type!r}")
