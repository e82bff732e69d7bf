"""`heals demo` end to end: the README's first command on the built-in hospital day."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from heals.infra import reachable

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo_output(live_services):
    if reachable(live_services.http_host, live_services.http_port) or reachable(live_services.mllp_host, live_services.mllp_port):
        pytest.fail("ports 8000 or 2575 are in use; the demo starts its own components there", pytrace=False)
    result = subprocess.run(
        [sys.executable, "-m", "heals", "demo", "--no-infra"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _count(output: str, label: str) -> int:
    match = re.search(rf"^\s+{re.escape(label)}: (\d+)$", output, re.M)
    return int(match.group(1)) if match else 0


def test_demo_acks(demo_output):
    assert _count(demo_output, "AA") == 71
    assert _count(demo_output, "AE") == 1
    assert _count(demo_output, "AR") == 2


def test_demo_deteriorating_patient_reaches_high_band(demo_output):
    assert re.search(r"EarlyWarningScoreChanged  \[open\] NEWS2 \d+ \(high risk\)", demo_output)


def test_demo_raises_critical_potassium(demo_output):
    assert "CriticalResultRaised  [open] Potassium 6.9 mmol/L" in demo_output


def test_demo_timeline_has_every_reading(demo_output):
    assert "56 device readings from 10:00 to 11:45" in demo_output


def test_demo_parks_malformed_messages(demo_output):
    section = demo_output.split("Dead letters", 1)[1].split("Explore next", 1)[0]
    assert "HL7 error 102" in section
    assert "HL7 error 200" in section
    assert "transfer-requires-active-admission" in section
