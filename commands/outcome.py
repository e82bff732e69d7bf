"""The outcome of a command on the write side, and the executor interface connectors call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from heals.commands.models import Command

__all__ = ["CommandOutcome", "CommandExecutor"]


@dataclass(frozen=True)
class CommandOutcome:
    """The events a command stored, and the token a reader waits on."""

    command_id: str
    event_ids: tuple[str, ...]
    position: str
    duplicate: bool = False


class CommandExecutor(Protocol):
    """Anything that executes commands durably: returns only after PostgreSQL committed."""

    def execute(self, command: Command) -> CommandOutcome:
        """Execute one command; raise heals.commands.errors.RuleViolation or ConcurrencyConflict."""
        ...

    def execute_all(self, commands: Sequence[Command]) -> list[CommandOutcome]:
        """Execute commands of one inbound message atomically: all are stored or none."""
        ...
