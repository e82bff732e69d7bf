"""Position tokens round-trip and reject malformed input."""

from __future__ import annotations

import pytest

from heals.commands.position import Position, decode_position, encode_position


def test_position_round_trip():
    token = encode_position("patient:MRN 7/ü", 42)
    assert token.startswith("v1.")
    assert decode_position(token) == Position("patient:MRN 7/ü", 42)


@pytest.mark.parametrize("token", ["", "v2.e30", "v1.!!!", "v1.e30", "v1.eyJhIjoieCIsInYiOjB9"])
def test_malformed_position_is_rejected(token):
    with pytest.raises(ValueError):
        decode_position(token)
