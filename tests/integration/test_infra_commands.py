"""`heals infra up | status | down` on a private state folder and Redis port.

Kafka and PostgreSQL are passed in as configured URLs, so the command checks
them without starting or stopping them, while Redis is managed: started on a
spare port, stopped again, and its status reported each time.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

SPARE_REDIS_PORT = "6391"


def _heals(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "heals", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def private_env(live_services, tmp_path):
    env = {
        **os.environ,
        "HEALS_STATE_DIR": str(tmp_path / "state"),
        "HEALS_KAFKA_BOOTSTRAP": live_services.bootstrap_servers,
        "HEALS_DATABASE_URL": live_services.postgres_url,
        "HEALS_REDIS_URL": f"redis://127.0.0.1:{SPARE_REDIS_PORT}/0",
        "HEALS_REDIS_PORT": SPARE_REDIS_PORT,
    }
    env.pop("HEALS_REDIS_URL")  # unset: Redis is managed by the command
    yield env
    _heals("infra", "down", env=env)


def test_up_twice_status_down_status(private_env):
    first = _heals("infra", "up", env=private_env)
    second = _heals("infra", "up", env=private_env)
    up_status = _heals("infra", "status", env=private_env)
    down = _heals("infra", "down", env=private_env)
    down_status = _heals("infra", "status", env=private_env)

    assert first.returncode == 0, first.stderr
    assert f"redis: up on 127.0.0.1:{SPARE_REDIS_PORT}" in first.stdout
    assert "kafka: configured by HEALS_KAFKA_BOOTSTRAP, reachable" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "redis: already running" in second.stdout
    assert up_status.returncode == 0
    assert "redis.log" in up_status.stdout
    assert "redis: stopped" in down.stdout
    assert "kafka: configured by HEALS_KAFKA_BOOTSTRAP, not stopped" in down.stdout
    assert down_status.returncode == 1
    assert "redis: down" in down_status.stdout


def test_unreachable_configured_service_is_reported(private_env):
    env = {**private_env, "HEALS_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    status = _heals("infra", "status", env=env)
    assert status.returncode == 1
    assert "kafka: down at 127.0.0.1:1 (configured by HEALS_KAFKA_BOOTSTRAP)" in status.stdout
