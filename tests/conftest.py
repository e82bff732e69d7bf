"""Shared fixtures: settings, the real services, and per-test topics."""

from __future__ import annotations

import os
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest

from heals.catalogue import Catalogue
from heals.infra import reachable, services
from heals.settings import REPO_ROOT, Settings

CASES_DIR = Path(os.environ.get("HEALS_CASES_DIR", REPO_ROOT.parent / "shared" / "cases"))

_containers = ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("HEALS_TEST_CONTAINERS") == "1":
        from tests.support.containers import start_containers

        start_containers(_containers)


def pytest_unconfigure(config: pytest.Config) -> None:
    _containers.close()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def catalogue(settings: Settings) -> Catalogue:
    return Catalogue(settings.schema_dir)


@pytest.fixture(scope="session")
def live_services(settings: Settings) -> Settings:
    """The real Kafka, PostgreSQL and Redis; the test errors out when one is down."""
    down = [f"{s.name} at {s.host}:{s.port}" for s in services(settings) if not reachable(s.host, s.port)]
    if down:
        pytest.fail(f"services not running: {', '.join(down)}; start them with `heals infra up`", pytrace=False)
    return settings


@pytest.fixture
def topic_factory(live_services: Settings):
    """Create uniquely named topics for one test and delete them afterwards."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from heals.kafka import client_config

    admin = AdminClient(client_config(live_services))
    created: list[str] = []

    def create(prefix: str = "test", partitions: int = 3, exact_name: str | None = None) -> str:
        name = exact_name or f"{prefix}.{uuid.uuid4().hex[:12]}"
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(30)
        created.append(name)
        return name

    yield create
    if created:
        for future in admin.delete_topics(created, operation_timeout=30).values():
            future.result(30)
