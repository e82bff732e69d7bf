"""A listener killed after the events are durable and before the ACK: no ACK, and a resend creates nothing new."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from heals.commands.service import CommandService
from heals.connectors.hl7.client import ClientError, MllpClient, read_ack
from heals.connectors.hl7.store import AckStore
from tests.integration.hl7.conftest import case

pytestmark = pytest.mark.integration

HEALS = Path(sys.executable).parent / "heals"


def _start(schema: str, topics, crash: str | None) -> tuple[subprocess.Popen, int]:
    env = {
        **os.environ,
        "HEALS_HL7_ACK_TABLE": f"{schema}_acks",
        "HEALS_HL7_RAW_TOPIC": topics.raw,
        "HEALS_HL7_READINGS_TOPIC": topics.readings,
        "HEALS_HL7_DEAD_LETTER_NAME": topics.dead_letter_name,
    }
    command = [str(HEALS), "hl7", "listen", "--port", "0", "--event-store-schema", schema]
    if crash:
        command += ["--crash", crash]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        match = re.search(r"listening on [\d.]+:(\d+)", line)
        if match:
            return process, int(match.group(1))
    raise AssertionError(f"listener exited with {process.wait()} before listening")


# after-commit: the events are committed but no ACK is stored, so the resend
# reaches the write side, which recognises the command ids. before-ack: the
# ACK is stored too, so the resend gets it back.
@pytest.mark.parametrize("crash", ["after-commit", "before-ack"])
def test_kill_between_store_and_ack(live_services, hl7_topics, crash):
    schema = f"test_hl7_kill_{uuid.uuid4().hex[:10]}"
    message = case("adt_a04_register_outpatient_bom_v23.hl7")
    service = CommandService(live_services, schema=schema)
    try:
        process, port = _start(schema, hl7_topics, crash=crash)
        with MllpClient("127.0.0.1", port, timeout_seconds=60) as client:
            with pytest.raises(ClientError, match="closed the connection before sending an ACK"):
                client.send(message)
        assert process.wait(60) == 70
        stored = service.store.read_log(0, 1000)
        assert [e.event_type for e in stored] == ["PatientRegistered", "PatientAdmitted"]

        process, port = _start(schema, hl7_topics, crash=None)
        try:
            with MllpClient("127.0.0.1", port, timeout_seconds=60) as client:
                ack = read_ack(client.send(message))
        finally:
            process.terminate()
            process.wait(60)
        assert ack.code == "AA"
        assert ack.control_id == "1270326314"
        assert service.store.read_log(0, 1000) == stored
    finally:
        store = AckStore(live_services.postgres_url, f"{schema}_acks")
        store.drop()
        store.close()
        service.store.drop()
