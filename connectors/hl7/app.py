"""Wiring of the HL7 listener: executor, ACK store, Kafka writers and handler from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from heals.codec import Codec
from heals.catalogue import load_catalogue
from heals.commands.outcome import CommandExecutor
from heals.connectors.hl7.handler import MessageHandler
from heals.connectors.hl7.kafka_writes import KafkaWriter
from heals.connectors.hl7.listener import MllpListener
from heals.connectors.hl7.settings import ListenerSettings
from heals.connectors.hl7.store import AckStore
from heals.dead_letters import DeadLetterWriter
from heals.kafka import make_producer
from heals.registry import make_registry
from heals.settings import Settings

__all__ = ["ListenerParts", "build_listener"]

COMPONENT = "hl7-listener"


@dataclass
class ListenerParts:
    """The listener and what it owns, so a caller can close them."""

    listener: MllpListener
    handler: MessageHandler
    store: AckStore

    def close(self) -> None:
        """Flush Kafka and close the ACK store."""
        self.handler.kafka.producer.flush(30)
        self.store.close()


def build_listener(
    settings: Settings,
    listener_settings: ListenerSettings,
    executor: CommandExecutor,
    *,
    host: str | None = None,
    port: int | None = None,
    before_ack: Callable[[], None] | None = None,
    after_commit: Callable[[], None] | None = None,
) -> ListenerParts:
    """Build a listener from settings; topic and table names come from listener_settings."""
    registry = make_registry(settings.schema_registry_url) if settings.schema_registry_url else None
    codec = Codec(load_catalogue(settings.schema_dir), registry)
    # linger.ms=0: each ACK waits for its own records, so batching would only add latency.
    producer = make_producer(settings, **{"linger.ms": 0})
    kafka = KafkaWriter(
        producer, codec, raw_topic=listener_settings.raw_topic, readings_topic=listener_settings.readings_topic,
        tenant_id=settings.tenant_id, timeout_seconds=listener_settings.delivery_timeout_seconds,
    )
    store = AckStore(settings.postgres_url, listener_settings.ack_table, max_connections=listener_settings.workers)
    handler = MessageHandler(
        executor, store, kafka, DeadLetterWriter(producer, codec, COMPONENT),
        tenant_id=settings.tenant_id,
        dead_letter_name=listener_settings.dead_letter_name,
        assigning_authority=settings.assigning_authority,
        sender_time_zone=settings.sender_time_zone,
        before_ack=before_ack,
        after_commit=after_commit,
    )
    listener = MllpListener(
        handler, host or settings.mllp_host, settings.mllp_port if port is None else port,
        max_message_bytes=listener_settings.max_message_bytes,
        idle_timeout_seconds=listener_settings.idle_timeout_seconds,
        workers=listener_settings.workers,
    )
    return ListenerParts(listener, handler, store)
