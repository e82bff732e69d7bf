"""Test doubles for the HL7 connector's unit tests; never used as proof of durability."""

from __future__ import annotations

import hashlib
from typing import Sequence

from heals.commands.models import Command
from heals.commands.outcome import CommandOutcome

__all__ = ["RecordingExecutor"]


class RecordingExecutor:
    """A CommandExecutor that records commands in memory and treats a repeated command id as a duplicate."""

    def __init__(self, error: Exception | None = None) -> None:
        self.commands: list[Command] = []
        self.error = error

    def execute(self, command: Command) -> CommandOutcome:
        """Record one command."""
        return self.execute_all([command])[0]

    def execute_all(self, commands: Sequence[Command]) -> list[CommandOutcome]:
        """Record the commands, or raise the configured error and record none."""
        if self.error is not None:
            raise self.error
        known = {command.command_id for command in self.commands}
        outcomes = []
        for command in commands:
            duplicate = command.command_id in known
            if not duplicate:
                self.commands.append(command)
                known.add(command.command_id)
            event_id = hashlib.sha256(command.command_id.encode()).hexdigest()[:32]
            outcomes.append(CommandOutcome(command.command_id, (event_id,), str(len(self.commands)), duplicate))
        return outcomes
