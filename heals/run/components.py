"""The components `heals up` runs, each with its command and readiness check."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from heals.settings import Settings

__all__ = ["Component", "components"]


@dataclass(frozen=True)
class Component:
    """One long-running HEALS process and how to tell it is ready."""

    name: str
    argv: tuple[str, ...]
    ready_port: int | None = None
    ready_pattern: str | None = None

    def describe_readiness(self) -> str:
        """Return what `heals up` waits for before calling the component ready."""
        if self.ready_port is not None:
            return f"accepting connections on port {self.ready_port}"
        return f"a log line matching {self.ready_pattern!r}"


def _heals(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "heals", *args)


def components(settings: Settings) -> list[Component]:
    """Return the components in start order: relay, stream worker, API, MLLP listener."""
    return [
        Component("relay", _heals("relay"), ready_pattern=r"(?i)relay .*started"),
        Component("worker", _heals("worker"), ready_pattern=r"(?i)(worker ready|partitions assigned|caught up|ready)"),
        Component("api", _heals("api"), ready_port=settings.http_port),
        Component("mllp", _heals("hl7", "listen"), ready_port=settings.mllp_port),
    ]
