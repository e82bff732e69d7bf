"""Records the HL7 listener writes to Kafka: readings awaited until the broker has them, the archive not awaited.

| record | topic | key |
| --- | --- | --- |
| InboundMessageReceived | hl7.inbound.raw.v1 | MSH-4 and MSH-10 |
| DeviceReadingRecorded | devices.readings.v1 | patient id, or device id while unbound |
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Sequence

from confluent_kafka import KafkaError, Producer

from heals.codec import Codec
from heals.connectors.devices.pcd01 import DeviceReading, reading_event_id
from heals.envelope import new_envelope, seal, utc_now
from heals.errors import HealsError

__all__ = ["DeliveryFailed", "KafkaWriter"]

logger = logging.getLogger(__name__)


class DeliveryFailed(HealsError):
    """Kafka did not acknowledge a record."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"Kafka did not acknowledge a record for {topic}: {reason}")
        self.topic = topic


class KafkaWriter:
    """Produce records with an idempotent producer and wait for each batch's acknowledgement."""

    def __init__(self, producer: Producer, codec: Codec, *, raw_topic: str, readings_topic: str,
                 tenant_id: str, timeout_seconds: float = 30.0) -> None:
        self.producer = producer
        self.codec = codec
        self.raw_topic = raw_topic
        self.readings_topic = readings_topic
        self.tenant_id = tenant_id
        self.timeout_seconds = timeout_seconds

    def _deliver(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        done = threading.Event()
        remaining = [len(records)]
        errors: list[KafkaError] = []
        lock = threading.Lock()

        def delivered(error: KafkaError | None, _message: Any) -> None:
            with lock:
                if error is not None:
                    errors.append(error)
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

        for key, value in records:
            self.producer.produce(topic, key=key, value=value, on_delivery=delivered)
        # Callbacks run inside poll(); any thread's poll may serve this batch's callbacks.
        waited = 0.0
        while not done.is_set() and waited < self.timeout_seconds:
            self.producer.poll(0.01)
            done.wait(0.001)
            waited += 0.011
        if not done.is_set():
            raise DeliveryFailed(topic, f"no acknowledgement within {self.timeout_seconds} s")
        if errors:
            raise DeliveryFailed(topic, str(errors[0]))

    def archive(self, *, message: bytes, ack: bytes | None, ack_code: str | None, peer: str,
                sending_application: str | None, sending_facility: str | None, control_id: str | None,
                message_type: str | None) -> None:
        """Queue one inbound message and its ACK for the raw archive topic, without waiting for the broker.

        The archive is a copy for audit, not the record of the events, so no
        ACK waits for it. A failed delivery is logged with the control id.
        NOTE: a crash before the producer delivers the record loses the copy,
        as a crash between the ACK and the archive did before. A clean stop
        calls ``producer.flush``, which delivers what is queued.
        """
        value = {
            "received_at": utc_now(),
            "peer": peer,
            "message": message,
            "ack": ack,
            "ack_code": ack_code,
            "sending_application": sending_application,
            "sending_facility": sending_facility,
            "message_control_id": control_id,
            "message_type": message_type,
        }
        key = f"{sending_facility or ''}|{control_id or ''}".encode("utf-8")

        def delivered(error: KafkaError | None, _message: Any) -> None:
            if error is not None:
                logger.error("archive record of message %s was not delivered to %s: %s", control_id, self.raw_topic, error)

        self.producer.produce(self.raw_topic, key=key, value=self.codec.encode("InboundMessageReceived", value, self.raw_topic),
                              on_delivery=delivered)
        # Serve delivery callbacks that are due, without blocking.
        self.producer.poll(0)

    def readings(self, readings: Sequence[DeviceReading], *, source_system: str, message_type: str,
                 control_id: str, correlation_id: str) -> list[str]:
        """Write device readings; return their event ids. A resent message gives the same ids."""
        records = []
        event_ids = []
        for reading in readings:
            envelope = new_envelope(
                event_type="DeviceReadingRecorded",
                tenant_id=self.tenant_id,
                patient_id=reading.patient_id,
                encounter_id=reading.encounter_id,
                aggregate_id=reading.device_id,
                # Readings are not stored in the event store, so they have no aggregate version.
                aggregate_version=0,
                occurred_at=reading.observed_at.value,
                occurred_at_offset_minutes=reading.observed_at.offset_minutes,
                source_system=source_system,
                correlation_id=correlation_id,
                message_type=message_type,
                message_control_id=control_id,
                event_id=reading_event_id(reading),
            )
            event = seal({
                "envelope": envelope,
                "device_id": reading.device_id,
                "code": reading.code.model_dump(),
                "value_quantity": reading.value.model_dump() if reading.value is not None else None,
                "value_code": reading.value_code.model_dump() if reading.value_code is not None else None,
                "value_text": reading.value_text,
                "bound_to_patient": reading.patient_id is not None,
            }, None)
            key = (reading.patient_id or reading.device_id).encode("utf-8")
            records.append((key, self.codec.encode("DeviceReadingRecorded", event, self.readings_topic)))
            event_ids.append(envelope["event_id"])
        if records:
            self._deliver(self.readings_topic, records)
        return event_ids
