"""The Avro schema catalogue: every .avsc under schemas/avro, parsed and indexed.

Named types (heals.Envelope, heals.common.*) live in their own files and are
referenced by full name from event schemas. The catalogue parses them first,
so each event schema resolves its references, and it indexes every record
schema by full name, by short event name and by CRC-64-AVRO fingerprint.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from heals.errors import SchemaError

__all__ = ["Catalogue", "EventSchema", "load_catalogue", "expand_references"]

# Named types other schemas refer to; parsed before the event schemas.
SHARED_FOLDERS = ("common",)


@dataclass(frozen=True)
class EventSchema:
    """One record schema of the catalogue, ready for fastavro."""

    full_name: str
    event_type: str
    path: Path
    parsed: dict[str, Any] = field(repr=False)
    expanded: dict[str, Any] = field(repr=False)
    fingerprint: bytes = field(repr=False)

    @property
    def has_envelope(self) -> bool:
        """True for aggregate events, which carry the common envelope."""
        return any(f["name"] == "envelope" for f in self.expanded["fields"])


def expand_references(schema: Any, named: dict[str, dict[str, Any]], seen: set[str] | None = None) -> Any:
    """Return the schema with every reference to a named type replaced by its definition.

    Avro allows a named type to be defined once per schema, so the first
    occurrence is inlined and later ones stay references.
    """
    seen = set() if seen is None else seen
    if isinstance(schema, str):
        if schema in named and schema not in seen:
            seen.add(schema)
            return expand_references(copy.deepcopy(named[schema]), named, seen)
        return schema
    if isinstance(schema, list):
        return [expand_references(item, named, seen) for item in schema]
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            seen.add(_full_name(schema))
            out = dict(schema)
            out["fields"] = [{**f, "type": expand_references(f["type"], named, seen)} for f in schema["fields"]]
            return out
        if schema.get("type") == "array":
            return {**schema, "items": expand_references(schema["items"], named, seen)}
        if schema.get("type") == "map":
            return {**schema, "values": expand_references(schema["values"], named, seen)}
    return schema


def _full_name(schema: dict[str, Any]) -> str:
    name = schema["name"]
    if "." in name or not schema.get("namespace"):
        return name
    return f"{schema['namespace']}.{name}"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"cannot read schema {path}: {exc}") from exc


class Catalogue:
    """Every schema of one schema folder, indexed for encoding and decoding."""

    def __init__(self, schema_dir: Path) -> None:
        self.schema_dir = schema_dir
        self.named: dict[str, dict[str, Any]] = {}
        self.by_full_name: dict[str, EventSchema] = {}
        self.by_event_type: dict[str, EventSchema] = {}
        self.by_fingerprint: dict[bytes, EventSchema] = {}
        self._load()

    def _load(self) -> None:
        if not self.schema_dir.is_dir():
            raise SchemaError(f"schema folder {self.schema_dir} does not exist; set HEALS_SCHEMA_DIR")

        # Shared named types first, so event schemas can refer to them by name.
        shared = [p for folder in SHARED_FOLDERS for p in sorted((self.schema_dir / folder).glob("*.avsc"))]
        envelope = self.schema_dir / "Envelope.avsc"
        for path in [*shared, envelope]:
            raw = _read_json(path)
            self.named[_full_name(raw)] = raw

        # Every other file is a record schema that can travel on a topic.
        for path in sorted(self.schema_dir.rglob("*.avsc")):
            if path in shared or path == envelope:
                continue
            self._add(path, _read_json(path))

    def _add(self, path: Path, raw: dict[str, Any]) -> None:
        expanded = expand_references(raw, self.named)
        try:
            parsed = fastavro.parse_schema(expanded)
        except Exception as exc:  # fastavro raises several unrelated types
            raise SchemaError(f"invalid schema {path}: {exc}") from exc
        full_name = _full_name(raw)
        schema = EventSchema(
            full_name=full_name,
            event_type=raw["name"],
            path=path,
            parsed=parsed,
            expanded=expanded,
            # fastavro prints the CRC-64-AVRO value in the little-endian byte order
            # that single-object encoding puts on the wire.
            fingerprint=bytes.fromhex(fingerprint(to_parsing_canonical_form(expanded), "CRC-64-AVRO")),
        )
        if schema.event_type in self.by_event_type:
            raise SchemaError(f"event type {schema.event_type!r} is defined twice: {path} and {self.by_event_type[schema.event_type].path}")
        self.by_full_name[full_name] = schema
        self.by_event_type[schema.event_type] = schema
        self.by_fingerprint[schema.fingerprint] = schema

    def get(self, event_type: str) -> EventSchema:
        """Return the schema of an event type, by short or full name."""
        schema = self.by_event_type.get(event_type) or self.by_full_name.get(event_type)
        if schema is None:
            raise SchemaError(f"no schema for event type {event_type!r} in {self.schema_dir}")
        return schema


@lru_cache(maxsize=4)
def load_catalogue(schema_dir: Path | None = None) -> Catalogue:
    """Load the catalogue of the configured schema folder once per process."""
    if schema_dir is None:
        from heals.settings import get_settings

        schema_dir = get_settings().schema_dir
    return Catalogue(schema_dir)
