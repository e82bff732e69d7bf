"""MLLP framing: frames split across reads, several per read, limits counted in bytes."""

from __future__ import annotations

import pytest

from heals.connectors.hl7.mllp import CARRIAGE_RETURN, END_BLOCK, START_BLOCK, FrameDecoder, FrameTooLarge, frame

MESSAGE = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|I\u2665HAPI|P|2.5\rPID|1||1^^^X^MR\r".encode("utf-8")


def test_frame_uses_named_bytes():
    assert frame(b"x") == START_BLOCK + b"x" + END_BLOCK + CARRIAGE_RETURN
    assert START_BLOCK == b"\x0b" and END_BLOCK == b"\x1c" and CARRIAGE_RETURN == b"\r"


def test_frame_split_byte_by_byte():
    decoder = FrameDecoder(1024)
    found = []
    for byte in frame(MESSAGE):
        found += decoder.feed(bytes([byte]))
    assert found == [MESSAGE]
    assert decoder.pending == 0


def test_several_frames_in_one_read():
    decoder = FrameDecoder(1024)
    assert decoder.feed(frame(b"one") + frame(b"two") + frame(b"three")[:4]) == [b"one", b"two"]
    assert decoder.feed(frame(b"three")[4:]) == [b"three"]


def test_end_block_and_carriage_return_in_separate_reads():
    decoder = FrameDecoder(1024)
    assert decoder.feed(START_BLOCK + b"abc" + END_BLOCK) == [b"abc"]
    assert decoder.feed(CARRIAGE_RETURN + frame(b"def")) == [b"def"]


def test_bytes_between_frames_are_discarded():
    decoder = FrameDecoder(1024)
    assert decoder.feed(b"\r\nnoise" + frame(b"abc")) == [b"abc"]
    assert decoder.discarded_bytes == 7


def test_limit_counts_bytes_not_characters():
    # 6 characters but 8 bytes in UTF-8.
    content = "I\u2665HAPI".encode("utf-8")
    assert len(content) == 8
    assert FrameDecoder(8).feed(frame(content)) == [content]
    with pytest.raises(FrameTooLarge) as raised:
        FrameDecoder(7).feed(frame(content))
    assert raised.value.limit == 7
    assert raised.value.size == 8


def test_decoder_recovers_after_oversized_frame():
    decoder = FrameDecoder(16)
    with pytest.raises(FrameTooLarge) as raised:
        decoder.feed(START_BLOCK + b"MSH|" + b"x" * 40)
    assert raised.value.head.startswith(b"MSH|")
    # The rest of the oversized frame is dropped up to the next start block.
    assert decoder.feed(b"y" * 10 + END_BLOCK + CARRIAGE_RETURN + frame(b"small")) == [b"small"]
