"""A write side that fails: AR 207 and no stored ACK, so the sender's retry is processed once it is back."""

from __future__ import annotations

from typing import Sequence

import pytest

from heals.commands.models import Command
from heals.commands.outcome import CommandOutcome
from tests.integration.hl7.conftest import case, start_listener, stop_listener

pytestmark = pytest.mark.integration


class SwitchableExecutor:
    """Delegates to the real write side, or raises ConnectionError while switched off."""

    def __init__(self, service) -> None:
        self.service = service
        self.down = True

    def execute(self, command: Command) -> CommandOutcome:
        return self.execute_all([command])[0]

    def execute_all(self, commands: Sequence[Command]) -> list[CommandOutcome]:
        if self.down:
            raise ConnectionError("connection to PostgreSQL refused")
        return self.service.execute_all(commands)


def test_write_side_failure_then_retry(live_services, hl7_topics):
    running = start_listener(live_services, hl7_topics)
    executor = SwitchableExecutor(running.service)
    running.parts.handler.executor = executor
    message = case("adt_a04_register_outpatient_bom_v23.hl7")
    try:
        failed = running.send(message)[0]
        stored_after_failure = running.stored_events()
        executor.down = False
        retried = running.send(message)[0]
    finally:
        stop_listener(running)

    assert failed.code == "AR"
    assert "internal error ConnectionError; resend later" in failed.text
    assert "ERR|^^^207&internal error" in failed.raw.decode()
    assert stored_after_failure == []
    assert retried.code == "AA"
