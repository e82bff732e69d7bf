"""Turn domain events into sealed Avro events: envelope, payload, Avro round trip, hash chain.

Each domain event maps to the catalogue schema of the same name (or of its
AVRO_EVENT_TYPE): the payload is every schema field except the envelope,
read from the event's attributes of the same name. The event is encoded and
decoded once before it is sealed, so the hash covers exactly the values a
consumer decodes from Kafka (UTC timestamps at microsecond precision,
decimals at the schema's scale), and `heals verify` can recompute it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from heals.codec import Codec
from heals.commands.aggregate import HealsAggregate, event_id_for
from heals.commands.models import Command
from heals.commands.store import SealedEvent
from heals.envelope import new_envelope, seal, utc_now
from heals.topics import CHARGES, topic_for_event

__all__ = ["CommandContext", "EventSealer", "avro_event_type"]


@dataclass(frozen=True)
class CommandContext:
    """The envelope fields a command gives every event it causes."""

    command_id: str
    tenant_id: str
    occurred_at: dt.datetime
    occurred_at_offset_minutes: int | None
    source_system: str
    message_type: str | None
    message_control_id: str | None
    actor: str | None
    correlation_id: str

    @classmethod
    def of(cls, command: Command) -> CommandContext:
        """Return the context of a command; correlation_id defaults to the command id."""
        return cls(
            command_id=command.command_id,
            tenant_id=command.tenant_id,
            occurred_at=command.occurred_at,
            occurred_at_offset_minutes=command.occurred_at_offset_minutes,
            source_system=command.source.system,
            message_type=command.source.message_type,
            message_control_id=command.source.message_control_id,
            actor=command.actor,
            correlation_id=command.correlation_id or command.command_id,
        )


def avro_event_type(event: Any) -> str:
    """Return the catalogue event type of a domain event."""
    return getattr(type(event), "AVRO_EVENT_TYPE", type(event).__name__)


class EventSealer:
    """Build, normalize and seal the Avro form of domain events."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def seal(
        self, aggregate: HealsAggregate, event: Any, context: CommandContext, prev_hash: str | None,
        traceparent: str | None = None,
    ) -> SealedEvent:
        """Return the sealed event for one domain event of an aggregate, chained to prev_hash."""
        event_type = avro_event_type(event)
        schema = self.codec.catalogue.get(event_type)
        topic = topic_for_event(event_type).name
        aggregate_id = aggregate.aggregate_key
        version = event.originator_version

        # Envelope and payload, the payload read field by field from the domain event.
        envelope = new_envelope(
            event_type=event_type,
            tenant_id=context.tenant_id,
            patient_id=event.patient_id,
            encounter_id=getattr(event, "encounter_id", None),
            aggregate_id=aggregate_id,
            aggregate_version=version,
            occurred_at=context.occurred_at,
            occurred_at_offset_minutes=context.occurred_at_offset_minutes,
            recorded_at=utc_now(),
            correlation_id=context.correlation_id,
            causation_id=context.command_id,
            source_system=context.source_system,
            message_type=context.message_type,
            message_control_id=context.message_control_id,
            actor=context.actor,
            event_id=event_id_for(aggregate_id, version),
        )
        value: dict[str, Any] = {"envelope": envelope}
        for field in schema.expanded["fields"]:
            if field["name"] != "envelope":
                value[field["name"]] = getattr(event, field["name"])

        # Avro round trip, so the hash covers what consumers decode; then seal and encode for good.
        normalized = self.codec.decode(self.codec.encode(event_type, value, topic)).value
        sealed = seal(normalized, prev_hash)
        key = value["account_id"] if topic == CHARGES.name else event.patient_id
        return SealedEvent(
            event_id=envelope["event_id"],
            event_type=event_type,
            aggregate_id=aggregate_id,
            aggregate_version=version,
            topic=topic,
            key=key,
            value=self.codec.encode(event_type, sealed, topic),
            hash=sealed["envelope"]["hash"],
            traceparent=traceparent,
        )
