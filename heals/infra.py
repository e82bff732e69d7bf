"""`heals infra up | down | status`: the local Kafka, PostgreSQL and Redis.

Each service is started by its script under infra/local/ only when no URL
for it is configured; a configured service is checked, never started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import click

from heals.settings import REPO_ROOT, Settings, get_settings

__all__ = ["infra", "Service", "services", "reachable"]

SCRIPTS = REPO_ROOT / "infra" / "local"


@dataclass(frozen=True)
class Service:
    """One backing service: its script, the setting that points elsewhere, and its address."""

    name: str
    setting: str
    configured_url: str | None
    host: str
    port: int

    @property
    def managed(self) -> bool:
        """True when HEALS starts this service itself."""
        return self.configured_url is None


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    first = url.split(",")[0]
    parts = urlsplit(first if "://" in first else f"tcp://{first}")
    return parts.hostname or "127.0.0.1", parts.port or default_port


def services(settings: Settings) -> list[Service]:
    """Return the three backing services with where each is expected."""
    kafka_host, kafka_port = _host_port(settings.bootstrap_servers, 9092)
    pg_host, pg_port = _host_port(settings.postgres_url, 5432)
    redis_host, redis_port = _host_port(settings.redis, 6379)
    return [
        Service("kafka", "HEALS_KAFKA_BOOTSTRAP", settings.kafka_bootstrap, kafka_host, kafka_port),
        Service("postgres", "HEALS_DATABASE_URL", settings.database_url, pg_host, pg_port),
        Service("redis", "HEALS_REDIS_URL", settings.redis_url, redis_host, redis_port),
    ]


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    """Return True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _run_script(service: Service, action: str, settings: Settings) -> int:
    env = {**os.environ, "HEALS_STATE_DIR": str(settings.state_dir), "HEALS_CACHE_DIR": str(settings.cache_dir)}
    return subprocess.run(["bash", str(SCRIPTS / f"{service.name}.sh"), action], env=env).returncode


def _wait_external(service: Service, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reachable(service.host, service.port):
            return True
        time.sleep(0.5)
    return False


@click.group()
def infra() -> None:
    """Start, stop and check Kafka, PostgreSQL and Redis on this machine."""


@infra.command()
def up() -> None:
    """Start every service that has no URL configured and wait until each accepts connections."""
    settings = get_settings()
    for service in services(settings):
        if service.managed:
            if _run_script(service, "up", settings) != 0:
                raise click.ClickException(f"{service.name} did not start; see the messages above")
        elif _wait_external(service):
            click.echo(f"{service.name}: configured by {service.setting}, reachable at {service.host}:{service.port}")
        else:
            raise click.ClickException(
                f"{service.name}: {service.setting} points at {service.host}:{service.port}, which does not accept connections"
            )


@infra.command()
def down() -> None:
    """Stop the services that `heals infra up` started; configured ones are left alone."""
    settings = get_settings()
    for service in reversed(services(settings)):
        if service.managed:
            _run_script(service, "down", settings)
        else:
            click.echo(f"{service.name}: configured by {service.setting}, not stopped")


@infra.command()
def status() -> None:
    """Report which services are up, where, and where their logs are; exit 1 when one is down."""
    settings = get_settings()
    down_count = 0
    for service in services(settings):
        if service.managed:
            down_count += _run_script(service, "status", settings) != 0
        elif reachable(service.host, service.port):
            click.echo(f"{service.name}: up at {service.host}:{service.port} (configured by {service.setting})")
        else:
            click.echo(f"{service.name}: down at {service.host}:{service.port} (configured by {service.setting})")
            down_count += 1
    if down_count:
        sys.exit(1)
