"""What every HEALS aggregate shares: its key, its event ids and the canonical patient.

The eventsourcing library stores aggregates under UUIDs; HEALS names them by
a readable key such as ``patient:MRN-1``, ``order:ORD-7`` or ``account:ACC-3``,
and derives the UUID from the key (UUID version 5), so the same key always
finds the same aggregate. Event ids are derived the same way from the key and
the version, so a consumer that dedupes on event_id or on (aggregate id,
version) finds the same event.

NOTE: keys do not include the tenant, so two tenants that share one event
store and use the same patient id would share one aggregate. Each tenant
needs its own store schema (HEALS_EVENT_STORE_SCHEMA) until keys carry it.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from eventsourcing.domain import Aggregate

__all__ = ["HealsAggregate", "aggregate_uuid", "event_id_for", "HEALS_NAMESPACE"]

# Fixed namespace for UUID version 5 ids of aggregates and events; changing it renames every aggregate.
HEALS_NAMESPACE = uuid.UUID("6f1c1f0e-3a52-4c55-9a43-7f1b3c0d9e21")


def aggregate_uuid(aggregate_key: str) -> uuid.UUID:
    """Return the stored UUID of an aggregate key such as ``patient:MRN-1``."""
    return uuid.uuid5(HEALS_NAMESPACE, aggregate_key)


def event_id_for(aggregate_key: str, version: int) -> str:
    """Return the event id of an aggregate's event at a version."""
    return str(uuid.uuid5(HEALS_NAMESPACE, f"{aggregate_key}@{version}"))


class HealsAggregate(Aggregate):
    """An aggregate named by a readable key; subclasses set KIND and a ``domain_id`` attribute."""

    KIND: ClassVar[str] = ""

    @property
    def aggregate_key(self) -> str:
        """The readable key of this aggregate, also the envelope's aggregate_id."""
        return self.key_for(self.domain_id)

    @classmethod
    def key_for(cls, domain_id: str) -> str:
        """Return the aggregate key of a domain id, for example ``patient:MRN-1``."""
        return f"{cls.KIND}:{domain_id}"

    @classmethod
    def uuid_for(cls, domain_id: str) -> uuid.UUID:
        """Return the stored UUID of a domain id."""
        return aggregate_uuid(cls.key_for(domain_id))
