"""Avro codec for Kafka record values, in both wire framings.

| framing | bytes | used when |
| --- | --- | --- |
| Avro single-object encoding | ``C3 01``, 8-byte CRC-64-AVRO fingerprint (little endian), body | no schema registry is configured |
| Confluent Schema Registry | ``00``, 4-byte schema id (big endian), body | HEALS_SCHEMA_REGISTRY_URL is set |

The decoder reads either framing whatever is configured, so a consumer keeps
working while producers switch. Every decoding failure raises DecodeError
with the topic, partition, offset and reason, so the caller can dead-letter
the record and go on.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any, Protocol

import fastavro

from heals.catalogue import Catalogue, EventSchema
from heals.errors import DecodeError, EncodeError

__all__ = ["Codec", "DecodedRecord", "SchemaRegistry", "SINGLE_OBJECT_MARKER", "CONFLUENT_MAGIC"]

SINGLE_OBJECT_MARKER = b"\xc3\x01"
SINGLE_OBJECT_HEADER_SIZE = 10
CONFLUENT_MAGIC = b"\x00"
CONFLUENT_HEADER_SIZE = 5


class SchemaRegistry(Protocol):
    """The calls the codec makes on a Confluent-compatible schema registry client."""

    def register_schema(self, subject_name: str, schema: Any) -> int: ...

    def get_schema(self, schema_id: int) -> Any: ...


@dataclass(frozen=True)
class DecodedRecord:
    """A decoded record value and the catalogue schema it was read into."""

    event_type: str
    value: dict[str, Any]
    schema: EventSchema


class Codec:
    """Encode events to Kafka record values and decode them back."""

    def __init__(self, catalogue: Catalogue, registry: SchemaRegistry | None = None) -> None:
        self.catalogue = catalogue
        self.registry = registry
        self._schema_ids: dict[tuple[str, str], int] = {}
        self._writer_schemas: dict[int, Any] = {}

    # -- encoding -----------------------------------------------------------

    def encode(self, event_type: str, value: dict[str, Any], topic: str) -> bytes:
        """Encode one event with the configured framing."""
        schema = self.catalogue.get(event_type)
        buffer = io.BytesIO()
        if self.registry is None:
            buffer.write(SINGLE_OBJECT_MARKER)
            buffer.write(schema.fingerprint)
        else:
            buffer.write(CONFLUENT_MAGIC)
            buffer.write(struct.pack(">I", self._schema_id(topic, schema)))
        try:
            fastavro.schemaless_writer(buffer, schema.parsed, value)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EncodeError(event_type, str(exc)) from exc
        return buffer.getvalue()

    def _schema_id(self, topic: str, schema: EventSchema) -> int:
        # TopicRecordNameStrategy: one topic carries several event types.
        key = (topic, schema.full_name)
        if key not in self._schema_ids:
            from confluent_kafka.schema_registry import Schema

            subject = f"{topic}-{schema.full_name}"
            registered = Schema(json.dumps(schema.expanded), schema_type="AVRO")
            self._schema_ids[key] = self.registry.register_schema(subject, registered)
        return self._schema_ids[key]

    # -- decoding -----------------------------------------------------------

    def decode(
        self,
        data: bytes | None,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> DecodedRecord:
        """Decode a record value in either framing into the catalogue's schema."""
        where = {"topic": topic, "partition": partition, "offset": offset}
        if not data:
            raise DecodeError("empty record value", **where)
        if data[:2] == SINGLE_OBJECT_MARKER:
            writer, reader = self._single_object_schemas(data, where)
            body = memoryview(data)[SINGLE_OBJECT_HEADER_SIZE:]
        elif data[:1] == CONFLUENT_MAGIC:
            writer, reader = self._confluent_schemas(data, where)
            body = memoryview(data)[CONFLUENT_HEADER_SIZE:]
        else:
            raise DecodeError(
                f"unknown framing: first bytes {bytes(data[:2]).hex()} are neither the single-object marker c301 nor the Confluent magic byte 00",
                **where,
            )
        return DecodedRecord(reader.event_type, self._read_body(body, writer, reader, where), reader)

    def _single_object_schemas(self, data: bytes, where: dict[str, Any]) -> tuple[Any, EventSchema]:
        if len(data) < SINGLE_OBJECT_HEADER_SIZE:
            raise DecodeError(f"truncated single-object header: {len(data)} bytes, need {SINGLE_OBJECT_HEADER_SIZE}", **where)
        fingerprint = bytes(data[2:SINGLE_OBJECT_HEADER_SIZE])
        schema = self.catalogue.by_fingerprint.get(fingerprint)
        if schema is None:
            raise DecodeError(f"unknown schema fingerprint {fingerprint.hex()} (not in the catalogue)", **where)
        return schema.parsed, schema

    def _confluent_schemas(self, data: bytes, where: dict[str, Any]) -> tuple[Any, EventSchema]:
        if len(data) < CONFLUENT_HEADER_SIZE:
            raise DecodeError(f"truncated Confluent header: {len(data)} bytes, need {CONFLUENT_HEADER_SIZE}", **where)
        schema_id = struct.unpack(">I", data[1:CONFLUENT_HEADER_SIZE])[0]
        writer = self._writer_schemas.get(schema_id)
        if writer is None:
            writer = self._fetch_writer_schema(schema_id, where)
        reader = self.catalogue.by_full_name.get(writer["name"])
        if reader is None:
            raise DecodeError(f"schema id {schema_id} is {writer['name']!r}, which the catalogue does not define", **where)
        return writer, reader

    def _fetch_writer_schema(self, schema_id: int, where: dict[str, Any]) -> Any:
        if self.registry is None:
            raise DecodeError(f"record uses Confluent framing (schema id {schema_id}) but HEALS_SCHEMA_REGISTRY_URL is not set", **where)
        try:
            registered = self.registry.get_schema(schema_id)
        except Exception as exc:  # the registry client raises its own error types
            raise DecodeError(f"unknown schema id {schema_id}: {exc}", **where) from exc
        writer = fastavro.parse_schema(json.loads(registered.schema_str))
        self._writer_schemas[schema_id] = writer
        return writer

    @staticmethod
    def _read_body(body: memoryview, writer: Any, reader: EventSchema, where: dict[str, Any]) -> dict[str, Any]:
        stream = io.BytesIO(body)
        try:
            value = fastavro.schemaless_reader(stream, writer, reader.parsed)
        except (EOFError, struct.error) as exc:
            raise DecodeError(f"truncated {reader.event_type} body ({len(body)} bytes): {exc or 'end of data'}", **where) from exc
        except (ValueError, TypeError, IndexError, UnicodeDecodeError, fastavro.read.SchemaResolutionError) as exc:
            raise DecodeError(f"body does not match schema {reader.full_name}: {exc}", **where) from exc
        trailing = len(body) - stream.tell()
        if trailing:
            raise DecodeError(f"{trailing} bytes left after the {reader.event_type} body; the record does not match its schema", **where)
        # fastavro reads the uuid logical type as uuid.UUID; events carry ids as text everywhere else.
        envelope = value.get("envelope")
        if envelope is not None and not isinstance(envelope["event_id"], str):
            envelope["event_id"] = str(envelope["event_id"])
        return value
