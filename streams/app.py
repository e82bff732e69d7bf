"""The one Faust app of HEALS. Agent modules register themselves by importing `app`."""

from __future__ import annotations

import importlib

import faust

from heals.settings import get_settings

__all__ = ["app", "AGENT_MODULES", "load_agents"]

# Modules that define agents on `app`; `heals worker` imports each before starting.
AGENT_MODULES: list[str] = []


def _broker_url() -> str:
    servers = get_settings().bootstrap_servers.split(",")
    return ";".join(f"kafka://{server.strip()}" for server in servers)


app = faust.App(
    "heals-streams",
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
)


def load_agents() -> None:
    """Import every agent module so its agents attach to the app."""
    for module in AGENT_MODULES:
        importlib.import_module(module)
