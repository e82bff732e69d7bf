"""Frames pipelined on one connection: one write-side transaction, each message still all or nothing, ACKs in order."""

from __future__ import annotations

import socket

import pytest

from heals.connectors.hl7.client import read_ack
from heals.connectors.hl7.mllp import FrameDecoder, frame

pytestmark = pytest.mark.integration


def _adt(event: str, control_id: str, patient: str, visit: str) -> bytes:
    return (
        f"MSH|^~\\&|PIPE|WARD|HEALS|H|20240101120000+0000||ADT^{event}|{control_id}|P|2.5\r"
        f"EVN||20240101120000+0000\r"
        f"PID|||{patient}^^^H^MR||Doe^Jane||19700101|F\r"
        f"PV1||I|W1^1^1||||||||||||||||{visit}\r"
    ).encode("ascii")


def _send_pipelined(port: int, messages: list[bytes]):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"".join(frame(m) for m in messages))
        decoder = FrameDecoder(1 << 20)
        acks: list[bytes] = []
        while len(acks) < len(messages):
            data = sock.recv(65536)
            assert data, "connection closed before every ACK arrived"
            acks += decoder.feed(data)
    return [read_ack(raw) for raw in acks]


def test_pipelined_messages_commit_in_order(hl7_listener, monkeypatch):
    group_sizes: list[int] = []
    execute_together = hl7_listener.service.execute_together

    def counted(messages):
        group_sizes.append(len(messages))
        return execute_together(messages)

    monkeypatch.setattr(hl7_listener.service, "execute_together", counted)
    messages = [
        _adt("A01", "PIPE-1", "PIPE-P1", "V1"),
        _adt("A02", "PIPE-2", "PIPE-P1", "V1"),
        _adt("A03", "PIPE-3", "PIPE-P1", "V1"),
        _adt("A04", "PIPE-4", "PIPE-P2", "V2"),
    ]

    acks = _send_pipelined(hl7_listener.port, messages)

    # One sendall on loopback arrives in one read, so the four messages form one group.
    assert group_sizes == [4]
    assert [a.control_id for a in acks] == ["PIPE-1", "PIPE-2", "PIPE-3", "PIPE-4"]
    assert [a.code for a in acks] == ["AA"] * 4
    events = hl7_listener.stored_events()
    assert [e.event_type for e in events if e.aggregate_id == "patient:PIPE-P1"] == [
        "PatientRegistered", "PatientAdmitted", "PatientTransferred", "PatientDischarged",
    ]
    assert [e.aggregate_version for e in events if e.aggregate_id == "patient:PIPE-P1"] == [1, 2, 3, 4]


def test_failing_pipelined_message_fails_alone(hl7_listener):
    messages = [
        _adt("A01", "PIPE-11", "PIPE-P11", "V11"),
        _adt("A03", "PIPE-12", "PIPE-UNKNOWN", "V12"),
        _adt("A04", "PIPE-13", "PIPE-P13", "V13"),
    ]

    acks = _send_pipelined(hl7_listener.port, messages)

    assert [a.code for a in acks] == ["AA", "AE", "AA"]
    stored = {e.aggregate_id for e in hl7_listener.stored_events()}
    assert {"patient:PIPE-P11", "patient:PIPE-P13"} <= stored
    assert "patient:PIPE-UNKNOWN" not in stored


def test_pipelined_resend_gets_stored_ack(hl7_listener):
    first = _adt("A04", "PIPE-21", "PIPE-P21", "V21")
    original = _send_pipelined(hl7_listener.port, [first, _adt("A04", "PIPE-22", "PIPE-P22", "V22")])
    count = len(hl7_listener.stored_events())

    again = _send_pipelined(hl7_listener.port, [first, _adt("A04", "PIPE-23", "PIPE-P23", "V23")])

    assert again[0].raw == original[0].raw
    assert [a.code for a in again] == ["AA", "AA"]
    assert len(hl7_listener.stored_events()) == count + 2
