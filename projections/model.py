"""The projection model: the events a projection reads, the tables it fills and the fold that fills them.

Every projection keeps a journal of the events it accepted, one row per
event id, and computes its read-model rows by folding the journal rows of
one key (a patient, an order, an account) in occurred_at order. Applying an
event therefore means: insert it into the journal unless its event id is
there already, then fold again every key it touched. A duplicate changes
nothing, a late event lands in its place in time, and a replay from offset 0
gives the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

__all__ = ["Table", "Projection", "SourceEvent", "DerivedRow", "POSITION_COLUMNS", "parse_time"]

# Every read-model row ends with the position of the last journal event folded into it.
POSITION_COLUMNS = (
    ("last_event_id", "uuid NOT NULL"),
    ("last_aggregate_id", "text NOT NULL"),
    ("last_aggregate_version", "bigint NOT NULL"),
    ("last_topic", "text NOT NULL"),
    ("last_partition", "integer NOT NULL"),
    ("last_offset", "bigint NOT NULL"),
    ("last_occurred_at", "timestamptz NOT NULL"),
)


@dataclass(frozen=True)
class SourceEvent:
    """A decoded event and the Kafka position it was read from."""

    topic: str
    partition: int
    offset: int
    event_type: str
    value: dict[str, Any]


@dataclass(frozen=True)
class Table:
    """One read-model table: its columns in insert order, and the column that contains the fold key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key_column: str
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of every column, position columns included, in insert order."""
        return tuple(name for name, _ in self.columns) + tuple(name for name, _ in POSITION_COLUMNS)


@dataclass(frozen=True)
class DerivedRow:
    """A read-model row produced by a fold, and the journal row of the last event in it."""

    table: str
    values: dict[str, Any]
    last: dict[str, Any]


@dataclass(frozen=True)
class Projection:
    """A read model: which event types it journals, how it keys them, and its fold."""

    name: str
    topic_roles: tuple[str, ...]
    event_types: frozenset[str]
    keyed_by: Literal["patient_id", "key_part"]
    tables: tuple[Table, ...] = field(default=())

    def key_part(self, event_type: str, value: dict[str, Any]) -> str | None:
        """Return the non-patient part of the fold key (an order or account id), or None."""
        return None

    def accepts(self, event_type: str, value: dict[str, Any]) -> bool:
        """Return True when the event belongs in this projection's journal."""
        return event_type in self.event_types and value["envelope"].get("patient_id") is not None

    def fold(self, key: str, events: list[dict[str, Any]]) -> Iterable[DerivedRow]:
        """Return the read-model rows of one key from its journal rows, oldest first."""
        return ()

    def reads(self, event_type: str) -> bool:
        """Return True when the projection needs events of this type decoded: its own, and merges."""
        return event_type in self.event_types or event_type == "PatientsMerged"

    def journal_window(self) -> int | None:
        """Return how many newest journal rows per key part a fold needs; None means all."""
        return None


def parse_time(value: Any) -> dt.datetime | None:
    """Return a datetime from the ISO 8601 text the journal stores, or None."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)
