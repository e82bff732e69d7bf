"""Batch and file envelopes: splitting and count checks."""

from __future__ import annotations

import pytest

from heals.connectors.hl7.batch import is_envelope, split_envelope
from heals.connectors.hl7.errors import MessageRejected
from tests.conftest import CASES_DIR


def load(name: str) -> bytes:
    return (CASES_DIR / "hl7v2" / name).read_bytes()


def test_batch_splits_into_messages():
    raw = load("batch_bhs_two_messages_bts.hl7")
    assert is_envelope(raw)
    envelope = split_envelope(raw)
    assert len(envelope.messages) == 2
    assert all(message.startswith(b"MSH|") for message in envelope.messages)


def test_file_splits_into_batches():
    envelope = split_envelope(load("file_fhs_two_batches_duplicate_control_id.hl7"))
    assert len(envelope.batches) == 2
    assert [len(batch.messages) for batch in envelope.batches] == [2, 1]


def test_second_bhs_rejects_the_batch():
    with pytest.raises(MessageRejected, match="more than one BHS"):
        split_envelope(load("batch_invalid_second_bhs_inside_message.hl7"))


def test_wrong_batch_count_rejects_the_batch():
    raw = load("batch_bhs_two_messages_bts.hl7").replace(b"BTS|2", b"BTS|3")
    with pytest.raises(MessageRejected, match="BTS-1 says 3"):
        split_envelope(raw)


def test_wrong_file_count_rejects_the_file():
    raw = load("file_fhs_two_batches_duplicate_control_id.hl7").replace(b"FTS|2", b"FTS|1")
    with pytest.raises(MessageRejected, match="FTS-1 says 1"):
        split_envelope(raw)


def test_single_message_is_not_an_envelope():
    assert not is_envelope(load("adt_a04_register_outpatient_bom_v23.hl7"))
