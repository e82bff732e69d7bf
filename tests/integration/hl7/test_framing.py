"""MLLP over a real socket: split frames, several frames per write, large and oversized frames, many connections."""

from __future__ import annotations

import socket
import threading

import pytest

from heals.connectors.hl7.client import MllpClient, read_ack
from heals.connectors.hl7.mllp import FrameDecoder, frame
from tests.integration.hl7.conftest import case, start_listener, stop_listener

pytestmark = pytest.mark.integration


def _ack_frames(sock: socket.socket, count: int) -> list[bytes]:
    decoder = FrameDecoder(1 << 20)
    acks: list[bytes] = []
    while len(acks) < count:
        data = sock.recv(65536)
        assert data, "connection closed before every ACK arrived"
        acks += decoder.feed(data)
    return acks


def _order(control_id: str, text_bytes: int = 0) -> bytes:
    # A synthetic ORU for patient SPLIT-1; the OBX-5 text makes it as long as needed.
    text = ("x" * 1000 + "\\.br\\") * (text_bytes // 1005)
    return (
        f"MSH|^~\\&|BENCH|WARD|HEALS|H|20240101120000+0000||ORU^R01|{control_id}|P|2.5.1\r"
        f"PID|||SPLIT-1^^^H^MR\r"
        f"OBR|1|{control_id}^BENCH||1554-5^GLUCOSE^LN|||20240101115500+0000\r"
        f"OBX|1|NM|1554-5^GLUCOSE^LN||5.5|mmol/L|3.9-6.1||||F\r"
        f"OBX|2|FT|NOTE^Note^L||{text}||||||F\r"
    ).encode("ascii")


def test_frame_split_across_writes(hl7_listener):
    message = case("omg_o19_ed_base64_images_long.hl7")
    with socket.create_connection(("127.0.0.1", hl7_listener.port)) as sock:
        data = frame(message)
        for start in range(0, len(data), 7):
            sock.sendall(data[start:start + 7])
        ack = read_ack(_ack_frames(sock, 1)[0])
    assert ack.code == "AR"
    assert ack.control_id == "MSG00019"


def test_several_frames_in_one_write(hl7_listener):
    messages = [_order(f"MULTI-{i}") for i in range(3)]
    with socket.create_connection(("127.0.0.1", hl7_listener.port)) as sock:
        sock.sendall(b"".join(frame(m) for m in messages))
        acks = [read_ack(raw) for raw in _ack_frames(sock, 3)]
    assert [a.control_id for a in acks] == ["MULTI-0", "MULTI-1", "MULTI-2"]
    assert [a.code for a in acks] == ["AA"] * 3


def test_one_megabyte_message(hl7_listener):
    message = _order("BIG-1", 1024 * 1024)
    assert len(message) > 1_000_000
    ack = hl7_listener.send(message)[0]
    assert ack.code == "AA"
    results = [e for e in hl7_listener.stored_events() if e.event_type == "ResultRecorded"]
    assert len(results) == 2


def test_oversized_frame_gets_ar_and_connection_goes_on(live_services, hl7_topics):
    running = start_listener(live_services, hl7_topics, max_message_bytes=64 * 1024)
    try:
        with MllpClient("127.0.0.1", running.port) as client:
            too_large = read_ack(client.send(_order("HUGE-1", 200 * 1024)))
            after = read_ack(client.send(_order("SMALL-1")))
        assert too_large.code == "AR"
        assert too_large.control_id == "HUGE-1"
        assert "exceeds the maximum message size of 65536 bytes" in too_large.text
        assert after.code == "AA"
    finally:
        stop_listener(running)


def test_idle_connection_is_closed(live_services, hl7_topics):
    running = start_listener(live_services, hl7_topics, idle_timeout_seconds=0.5)
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
            assert sock.recv(1) == b""
    finally:
        stop_listener(running)


def test_many_connections_at_once(hl7_listener):
    results: dict[int, list[str]] = {}

    def send(connection: int) -> None:
        messages = [_order(f"CONN-{connection}-{i}") for i in range(5)]
        results[connection] = [ack.code for ack in hl7_listener.send(*messages)]

    threads = [threading.Thread(target=send, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert results == {n: ["AA"] * 5 for n in range(10)}


def test_unhandled_bytes_still_get_a_reply(hl7_listener):
    with MllpClient("127.0.0.1", hl7_listener.port) as client:
        garbage = read_ack(client.send(b"\x00\xff not hl7 at all"))
        after = read_ack(client.send(_order("AFTER-GARBAGE")))
    assert garbage.code == "AR"
    assert after.code == "AA"
