"""Fixtures of the write-side integration tests: a fresh event store schema and relay topics."""

from __future__ import annotations

import uuid

import pytest

from heals.commands.service import CommandService
from heals.commands.verify import WRITE_SIDE_TOPICS
from heals.settings import Settings


@pytest.fixture
def store_schema() -> str:
    return f"test_commands_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def service(live_services: Settings, store_schema: str):
    """A CommandService on its own PostgreSQL schema, dropped after the test."""
    command_service = CommandService(live_services, schema=store_schema)
    yield command_service
    command_service.store.drop()


@pytest.fixture
def relay_topics(topic_factory) -> dict[str, str]:
    """Catalogue topic name -> a test topic of the same role."""
    return {name: topic_factory(prefix=f"test.{name}") for name in WRITE_SIDE_TOPICS}


@pytest.fixture
def position_topic(topic_factory) -> str:
    return topic_factory(prefix="test.relay.position", partitions=1)
