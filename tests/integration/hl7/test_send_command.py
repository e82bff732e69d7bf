"""`heals hl7 send` against a running listener: one ACK line for every file of the cases folder, in order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.hl7.conftest import HL7_CASES, case_names

pytestmark = pytest.mark.integration

HEALS = Path(sys.executable).parent / "heals"


def test_send_prints_one_ack_per_file(hl7_listener):
    output = subprocess.run(
        [str(HEALS), "hl7", "send", str(HL7_CASES), "--host", "127.0.0.1", "--port", str(hl7_listener.port)],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout.splitlines()

    names = [line.split(":")[0] for line in output]
    assert list(dict.fromkeys(names)) == case_names()
    assert names.count("file_fhs_two_batches_duplicate_control_id.hl7") == 3
    assert names.count("batch_bhs_two_messages_bts.hl7") == 2
    codes = {line.split(":")[0]: line.split()[1] for line in output}
    assert codes["adt_a04_register_outpatient_bom_v23.hl7"] == "AA"
    assert codes["fuzz_adt_a40_one_encoding_char_stackoverflow.hl7"] == "AR"
    assert codes["oru_r01_pcd01_nibp_mdc_v26.hl7"] == "AA"
    assert "adt_a24_caret_field_separator_crlf.hl7: CR 2003582144  message type ADT^A24 is not supported" in output
