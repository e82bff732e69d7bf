"""Kafka clients set up for durability, and W3C trace context in record headers."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from opentelemetry import propagate, trace

from heals.errors import HealsError
from heals.settings import Settings
from heals.topics import Topic

__all__ = [
    "apply_topics",
    "client_config",
    "consumer_config",
    "make_consumer",
    "make_producer",
    "producer_config",
    "trace_headers",
    "TopicDrift",
]

logger = logging.getLogger(__name__)


def client_config(settings: Settings) -> dict[str, Any]:
    """Return the connection settings every Kafka client shares."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username
        config["sasl.password"] = settings.kafka_sasl_password or ""
    if settings.kafka_ssl_ca_location:
        config["ssl.ca.location"] = settings.kafka_ssl_ca_location
    return config


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Return an idempotent producer configuration: acks=all, ordered retries."""
    config = {
        **client_config(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
    }
    config.update(overrides)
    return config


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """Return a consumer configuration with manual offset commits and read_committed isolation."""
    config = {
        **client_config(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }
    config.update(overrides)
    return config


def make_producer(settings: Settings, **overrides: Any) -> Producer:
    """Create an idempotent producer."""
    return Producer(producer_config(settings, **overrides))


def make_consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    """Create a consumer that commits offsets only when the caller commits them."""
    return Consumer(consumer_config(settings, group_id, **overrides))


def trace_headers() -> list[tuple[str, bytes]]:
    """Return the current span's W3C traceparent (and tracestate) as Kafka headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode("ascii")) for name, value in carrier.items()]


def context_from_headers(headers: Iterable[tuple[str, bytes]] | None) -> Any:
    """Return the trace context carried by Kafka headers, for starting a child span."""
    carrier = {name: value.decode("ascii", "replace") for name, value in headers or () if value is not None}
    return propagate.extract(carrier)


tracer = trace.get_tracer("heals")


class TopicDrift(HealsError):
    """An existing topic differs from the catalogue."""


def apply_topics(settings: Settings, topics: Iterable[Topic]) -> tuple[list[str], list[str]]:
    """Create missing topics; return (created topic names, drift descriptions)."""
    admin = AdminClient(client_config(settings))
    catalogue_topics = {topic.name: topic for topic in topics}
    existing = admin.list_topics(timeout=15).topics
    created = _create_missing(admin, settings, [t for name, t in catalogue_topics.items() if name not in existing])
    drift = _describe_drift(admin, settings, {n: t for n, t in catalogue_topics.items() if n in existing}, existing)
    return created, drift


def _create_missing(admin: AdminClient, settings: Settings, missing: list[Topic]) -> list[str]:
    if not missing:
        return []
    new_topics = [
        NewTopic(
            topic.name,
            num_partitions=topic.partitions or settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            config=topic.config(),
        )
        for topic in missing
    ]
    created = []
    for name, future in admin.create_topics(new_topics, operation_timeout=30).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
        created.append(name)
        logger.info("created topic %s", name)
    return created


def _describe_drift(admin: AdminClient, settings: Settings, present: dict[str, Topic], metadata: dict) -> list[str]:
    drift = []
    for name, topic in present.items():
        partitions = len(metadata[name].partitions)
        expected_partitions = topic.partitions or settings.topic_partitions
        if partitions != expected_partitions:
            drift.append(f"{name}: {partitions} partitions, catalogue says {expected_partitions}")
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in present]
    if not resources:
        return drift
    for resource, future in admin.describe_configs(resources).items():
        actual = future.result()
        for key, expected in present[resource.name].config().items():
            value = actual[key].value if key in actual else None
            if value != expected:
                drift.append(f"{resource.name}: {key}={value}, catalogue says {expected}")
    return drift
