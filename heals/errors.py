"""The HEALS error hierarchy.

    HealsError
    ├── ConfigurationError        a setting is missing, invalid or contradictory
    ├── SchemaError               a schema in the catalogue is invalid or unknown
    ├── DecodeError               a Kafka record cannot be decoded (topic, partition, offset)
    ├── EncodeError               an event does not match its schema
    ├── InfraError                a local service failed to start or stop
    └── DomainError               raised by the write side (see heals.commands.errors)

Every error carries the ids that locate the problem and never clinical
content, so messages are safe to log.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DecodeError",
    "DomainError",
    "EncodeError",
    "HealsError",
    "InfraError",
    "SchemaError",
]


class HealsError(Exception):
    """Root of every error HEALS raises on purpose."""


class ConfigurationError(HealsError):
    """A setting is missing, invalid or contradicts another one."""


class SchemaError(HealsError):
    """A schema in the Avro catalogue is invalid, missing or unknown."""


class EncodeError(HealsError):
    """An event does not match the schema it is encoded with."""

    def __init__(self, event_type: str, reason: str) -> None:
        super().__init__(f"cannot encode {event_type}: {reason}")
        self.event_type = event_type
        self.reason = reason


class DecodeError(HealsError):
    """A record cannot be decoded; carries where it sits so it can be dead-lettered."""

    def __init__(
        self,
        reason: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        where = f"topic {topic!r} partition {partition} offset {offset}"
        super().__init__(f"cannot decode record at {where}: {reason}")
        self.reason = reason
        self.topic = topic
        self.partition = partition
        self.offset = offset


class InfraError(HealsError):
    """A local service could not be started, reached or stopped."""


class DomainError(HealsError):
    """A command broke a rule of the hospital's domain."""
