"""Start Kafka, PostgreSQL and Redis with testcontainers on machines that run Docker.

Set HEALS_TEST_CONTAINERS=1 to use it; the tests then read the containers'
addresses from the HEALS_* variables this module sets. Without it the tests
use the services that `heals infra up` started.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

__all__ = ["start_containers"]


def start_containers(stack: ExitStack) -> None:
    """Start the three containers, register their cleanup on ``stack`` and export their URLs."""
    # NOTE: this path needs a Docker engine, which the development machines and
    # CI of this project lack, so it has never run. It uses only the documented
    # testcontainers modules for Kafka, PostgreSQL and Redis.
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    kafka = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft())
    postgres = stack.enter_context(PostgresContainer("postgres:16", username="heals", password="heals", dbname="heals"))
    redis = stack.enter_context(RedisContainer("redis:7"))

    os.environ["HEALS_KAFKA_BOOTSTRAP"] = kafka.get_bootstrap_server()
    os.environ["HEALS_DATABASE_URL"] = postgres.get_connection_url(driver=None)
    os.environ["HEALS_REDIS_URL"] = f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
