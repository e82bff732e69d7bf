"""Fixtures of the end-to-end projection tests: a stack per test, torn down after."""

from __future__ import annotations

import pytest

from heals.codec import Codec
from tests.support.projection_stack import drop_schema, new_stack


@pytest.fixture
def codec(catalogue) -> Codec:
    return Codec(catalogue)


@pytest.fixture
def stack(live_services, codec, topic_factory, tmp_path):
    """Topics, schema and a running worker; the worker is killed and the schema dropped afterwards."""
    stack = new_stack(live_services, codec, topic_factory, tmp_path)
    yield stack
    stack.kill_worker()
    drop_schema(live_services, stack.schema)


@pytest.fixture
def second_stack(live_services, codec, topic_factory, tmp_path):
    """Another stack, for comparing two deliveries of the same events."""
    stack = new_stack(live_services, codec, topic_factory, tmp_path / "second")
    (tmp_path / "second").mkdir()
    yield stack
    stack.kill_worker()
    drop_schema(live_services, stack.schema)
