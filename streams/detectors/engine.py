"""Route decoded input events to the detectors and send their alerts through the outbox.

| input event | detector |
| --- | --- |
| DeviceReadingRecorded | NEWS2, then the river model of the parameter |
| Spo2ScaleAssigned | NEWS2 (rescoring on the new scale) |
| ResultRecorded | critical results |
| AlertAcknowledged | critical results (stops escalation) |
| ChargePosted | charge anomaly |

Every other event type is ignored. A record that cannot be decoded is
parked on dlq.<topic> with its bytes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable

from confluent_kafka import Producer

from heals.codec import Codec
from heals.dead_letters import DeadLetterWriter
from heals.envelope import utc_now
from heals.errors import DecodeError, HealsError
from heals.settings import Settings
from heals.streams.detectors.anomaly import VitalAnomalyDetector
from heals.streams.detectors.charge_anomaly import ChargeAnomalyDetector
from heals.streams.detectors.critical_results import CriticalResultDetector, load_limits
from heals.streams.detectors.early_warning import EarlyWarningDetector
from heals.streams.detectors.events import AlertFactory
from heals.streams.detectors.settings import DetectorSettings
from heals.streams.detectors.store import DetectorStore, Transaction
from heals.streams.detectors.vital_codes import CodeTable, RejectedReading, to_observation

__all__ = ["DetectorEngine", "RawRecord"]

logger = logging.getLogger(__name__)

Handler = Callable[[Transaction, dict[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class RawRecord:
    """A Kafka record as consumed, before decoding."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    partition: int | None = None
    offset: int | None = None


class DetectorEngine:
    """Every detector over one PostgreSQL store and one Kafka producer."""

    def __init__(
        self,
        settings: Settings,
        detector_settings: DetectorSettings,
        store: DetectorStore,
        codec: Codec,
        producer: Producer,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.settings = detector_settings
        self.store = store
        self.codec = codec
        self.producer = producer
        self.clock = clock
        self.dead_letters = DeadLetterWriter(producer, codec, "detectors")
        self.codes = CodeTable.load(detector_settings.vital_codes_file)
        factory = AlertFactory(settings.tenant_id, clock)
        self.news2 = EarlyWarningDetector(self.codes, dt.timedelta(seconds=detector_settings.freshness_seconds), factory)
        self.anomalies = VitalAnomalyDetector(detector_settings.anomaly_warmup, detector_settings.anomaly_threshold, factory)
        self.critical = CriticalResultDetector(
            load_limits(detector_settings.critical_limits_file),
            dt.timedelta(seconds=detector_settings.escalate_after_seconds), factory,
        )
        self.charges = ChargeAnomalyDetector(detector_settings.charge_model_dir, factory)
        self.handlers: dict[str, Handler] = {
            "DeviceReadingRecorded": self._on_reading,
            "Spo2ScaleAssigned": self.news2.on_scale_assigned,
            "ResultRecorded": self.critical.on_result,
            "AlertAcknowledged": self.critical.on_acknowledged,
            "ChargePosted": self.charges.on_charge,
        }

    def handle(self, topic: str, value: bytes | None, key: bytes | None = None,
               partition: int | None = None, offset: int | None = None) -> int:
        """Process one Kafka record; return the number of alert events sent."""
        return self.handle_batch([RawRecord(topic, value, key, partition, offset)])

    def handle_batch(self, records: list["RawRecord"]) -> int:
        """Process records in order in one transaction; return the number of alert events sent.

        One commit per batch instead of one per record lets the detectors
        keep up with bedside monitors. A failure rolls back the whole batch,
        which is then redelivered as a whole.
        """
        decoded = [event for event in (self._decode(record) for record in records) if event is not None]
        if not decoded:
            return 0

        # State, redelivery guard and outbox change together, or not at all.
        queued = 0
        with self.store.transaction() as tx:
            for handler, event in decoded:
                if tx.claim(event["envelope"]["event_id"]):
                    queued += self._queue(tx, handler(tx, event))
                else:
                    logger.debug("event %s already processed", event["envelope"]["event_id"])
        return self.send_outbox() if queued else 0

    def _decode(self, record: "RawRecord") -> tuple[Handler, dict[str, Any]] | None:
        try:
            decoded = self.codec.decode(record.value, topic=record.topic, partition=record.partition,
                                        offset=record.offset)
        except DecodeError as exc:
            self.dead_letters.park(record.topic, exc, record.value or b"", key=record.key, source_topic=record.topic,
                                   source_partition=record.partition, source_offset=record.offset)
            return None
        handler = self.handlers.get(decoded.event_type)
        return None if handler is None else (handler, decoded.value)

    def escalate(self) -> int:
        """Escalate overdue critical-result alerts; return the number of alert events sent."""
        with self.store.transaction() as tx:
            queued = self._queue(tx, self.critical.escalate_due(tx, self.clock()))
        return self.send_outbox() if queued else 0

    def send_outbox(self) -> int:
        """Send queued alert events and mark them sent once Kafka acknowledged them."""
        with self.store.transaction() as tx:
            records = tx.unsent()
            if not records:
                return 0
            for record in records:
                self.producer.produce(record.topic, key=record.key, value=record.value)
            remaining = self.producer.flush(30)
            if remaining:
                raise HealsError(f"{remaining} alert events not acknowledged by Kafka within 30 s; they stay in the outbox")
            tx.mark_sent([record.seq for record in records])
        return len(records)

    def _on_reading(self, tx: Transaction, reading: dict[str, Any]) -> list[dict[str, Any]]:
        events = self.news2.on_reading(tx, reading)
        patient_id = reading["envelope"]["patient_id"]
        if not patient_id or not reading.get("bound_to_patient", True):
            return events
        try:
            observation = to_observation(reading, self.codes)
        except RejectedReading:
            return events  # the NEWS2 detector has recorded the rejection
        if observation is not None:
            events.extend(self.anomalies.on_observation(tx, observation, patient_id, reading["envelope"]))
        return events

    def _queue(self, tx: Transaction, events: list[dict[str, Any]]) -> int:
        topic = self.settings.alerts_topic
        for event in events:
            envelope = event["envelope"]
            key = envelope["patient_id"].encode() if envelope["patient_id"] else None
            tx.add_to_outbox(envelope["event_id"], topic, key, self.codec.encode(envelope["event_type"], event, topic))
        return len(events)
