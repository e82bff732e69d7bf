"""The one Faust app of HEALS. Agent modules register themselves by importing `app`."""

from __future__ import annotations

import importlib

import faust

from heals.settings import get_settings
from heals.streams.settings import get_stream_settings

__all__ = ["app", "AGENT_MODULES", "load_agents"]

# Modules that define agents on `app`; `heals worker` imports each before starting.
AGENT_MODULES: list[str] = [
    "heals.streams.projection_agents",
    "heals.streams.detectors.agents",
    "heals.projections.alerts.agent",
]


def _broker_url() -> str:
    servers = get_settings().bootstrap_servers.split(",")
    return ";".join(f"kafka://{server.strip()}" for server in servers)


def _data_dir() -> str:
    streams = get_stream_settings()
    return str(streams.data_dir or get_settings().state_dir / "faust" / streams.app_id)


app = faust.App(
    get_stream_settings().app_id,
    broker=_broker_url(),
    value_serializer="raw",
    key_serializer="raw",
    # Correctness rests on idempotent handlers, not on Faust's exactly-once
    # mode, which has open defects around rebalances.
    processing_guarantee="at_least_once",
    topic_replication_factor=get_settings().topic_replication_factor,
    topic_partitions=get_settings().topic_partitions,
    topic_allow_declare=False,
    web_enabled=False,
    store="memory://",
    datadir=_data_dir(),
)


def load_agents() -> None:
    """Import every agent module so its agents attach to the app.

    HEALS_STREAMS_AGENT_MODULES narrows the list, so a test can run one module's agents alone.
    """
    for module in get_stream_settings().agent_modules or AGENT_MODULES:
        importlib.import_module(module)
