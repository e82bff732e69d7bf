"""Build a valid, fully populated record for any Avro schema, for round-trip tests.

Every optional field gets a non-null value, so a round trip that loses a
field shows up as a difference.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

SAMPLE_TIME = dt.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=dt.timezone.utc)


def sample_value(schema: Any, field_name: str = "value", named: dict[str, Any] | None = None) -> Any:
    """Return a deterministic sample value for an expanded Avro schema."""
    named = {} if named is None else named
    if isinstance(schema, list):
        non_null = [branch for branch in schema if branch != "null"]
        return sample_value(non_null[0], field_name, named) if non_null else None
    if isinstance(schema, str):
        if schema in named:
            return sample_value(named[schema], field_name, named)
        return _primitive(schema, field_name)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, field_name))
    if logical == "timestamp-micros":
        return SAMPLE_TIME
    if logical == "decimal":
        return Decimal("1234.5600")
    if kind == "record":
        full_name = schema["name"] if "." in schema["name"] else f"{schema.get('namespace', '')}.{schema['name']}"
        named[full_name.lstrip(".")] = schema
        return {f["name"]: sample_value(f["type"], f["name"], named) for f in schema["fields"]}
    if kind == "array":
        items = schema["items"]
        return [sample_value(items, field_name, named), sample_value(items, field_name + "2", named)]
    if kind == "map":
        return {"k": sample_value(schema["values"], field_name, named)}
    if kind == "enum":
        return schema["symbols"][0]
    return _primitive(kind, field_name)


def _primitive(kind: str, field_name: str) -> Any:
    return {
        "string": f"sample-{field_name}",
        "int": 7,
        "long": 1_234_567_890_123,
        "double": 36.6,
        "float": 1.5,
        "boolean": True,
        "bytes": f"bytes-{field_name}".encode(),
        "null": None,
    }[kind]
