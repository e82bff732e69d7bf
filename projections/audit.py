"""Record every read of patient data as an AccessRecorded event on the audit topic.

The record is produced without waiting for the broker, so it does not slow
down the read. A failed delivery is logged with the access id.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from heals.codec import Codec
from heals.envelope import utc_now

__all__ = ["AccessRecorder"]

logger = logging.getLogger(__name__)


class AccessRecorder:
    """Produces AccessRecorded events keyed by patient id."""

    def __init__(self, producer: Producer, codec: Codec, topic: str, tenant_id: str) -> None:
        self.producer = producer
        self.codec = codec
        self.topic = topic
        self.tenant_id = tenant_id

    def record(self, patient_id: str, resource: str, method: str, path: str, status_code: int,
               actor: str | None = None, purpose: str | None = None, client: str | None = None) -> str:
        """Send one access record and return its id."""
        access_id = str(uuid.uuid4())
        value: dict[str, Any] = {
            "access_id": access_id, "accessed_at": utc_now(), "tenant_id": self.tenant_id, "patient_id": patient_id,
            "actor": actor, "purpose": purpose, "resource": resource, "method": method, "path": path,
            "status_code": status_code, "client": client,
        }
        try:
            self.producer.produce(self.topic, key=patient_id.encode(), value=self.codec.encode("AccessRecorded", value, self.topic),
                                  on_delivery=self._delivered)
            self.producer.poll(0)
        except (KafkaException, BufferError) as exc:
            logger.warning("access record %s not sent to %s: %s", access_id, self.topic, exc)
        return access_id

    @staticmethod
    def _delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            logger.warning("access record on %s[%s] not delivered: %s", message.topic(), message.partition(), error)

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for outstanding records; return how many are still undelivered."""
        return self.producer.flush(timeout)
