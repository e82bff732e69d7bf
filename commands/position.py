"""Position tokens: the last (aggregate id, aggregate version) a command wrote.

A token is ``v1.`` followed by the URL-safe base64 (unpadded) of the JSON
object ``{"a": aggregate_id, "v": aggregate_version}``. Readers treat it as
opaque and wait until their projection has applied that aggregate version;
decode_position() returns the pair.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

__all__ = ["Position", "decode_position", "encode_position"]

PREFIX = "v1."


@dataclass(frozen=True)
class Position:
    """An aggregate and the version of its event that a reader must have applied."""

    aggregate_id: str
    aggregate_version: int


def encode_position(aggregate_id: str, aggregate_version: int) -> str:
    """Return the token for an aggregate version."""
    body = json.dumps({"a": aggregate_id, "v": aggregate_version}, separators=(",", ":")).encode("utf-8")
    return PREFIX + base64.urlsafe_b64encode(body).decode("ascii").rstrip("=")


def decode_position(token: str) -> Position:
    """Return the aggregate version a token names; raise ValueError for a malformed token."""
    if not token.startswith(PREFIX):
        raise ValueError(f"invalid position token {token!r}: it must start with {PREFIX!r}")
    body = token[len(PREFIX):]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        aggregate_id, version = decoded["a"], decoded["v"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"invalid position token {token!r}: {exc}") from exc
    if not isinstance(aggregate_id, str) or not isinstance(version, int) or version < 1:
        raise ValueError(f"invalid position token {token!r}: expected an aggregate id and a version >= 1")
    return Position(aggregate_id, version)
