"""MLLP framing: <VT> message <FS><CR>, counted in bytes.

The Minimal Lower Layer Protocol (HL7 v2.5.1 Implementation Guide, appendix C)
wraps each message in a start block byte and an end block byte followed by a
carriage return. A TCP read may hold part of a frame or several frames, so
FrameDecoder keeps a byte buffer across reads.
"""

from __future__ import annotations

from heals.errors import HealsError

__all__ = ["START_BLOCK", "END_BLOCK", "CARRIAGE_RETURN", "FrameDecoder", "FrameTooLarge", "frame"]

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
FRAME_END = END_BLOCK + CARRIAGE_RETURN
HEAD_BYTES = 4096


class FrameTooLarge(HealsError):
    """A frame grew past the maximum message size before its end block arrived."""

    def __init__(self, size: int, limit: int, head: bytes = b"") -> None:
        super().__init__(
            f"MLLP frame of at least {size} bytes exceeds the maximum message size of {limit} bytes; "
            "raise HEALS_MLLP_MAX_MESSAGE_BYTES or split the message"
        )
        self.size = size
        self.limit = limit
        # The first bytes of the frame, enough to read MSH-10 for the reject ACK.
        self.head = head


def frame(message: bytes) -> bytes:
    """Wrap one message in MLLP start and end blocks."""
    return START_BLOCK + message + FRAME_END


class FrameDecoder:
    """Collect bytes from a stream and return each complete frame's content."""

    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self.discarded_bytes = 0

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame held in the buffer."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes read from the socket; return the messages they completed, in order.

        Bytes outside a frame (noise between frames, a keep-alive newline) are
        counted in discarded_bytes and dropped. Raise FrameTooLarge when an
        open frame exceeds the maximum message size; the decoder is then
        reset so the connection can go on with the next start block.
        """
        messages: list[bytes] = []
        view = memoryview(data)
        position = 0
        while position < len(view):
            if not self._in_frame:
                start = data.find(START_BLOCK, position)
                if start < 0:
                    self.discarded_bytes += len(view) - position
                    break
                self.discarded_bytes += start - position
                position = start + 1
                self._in_frame = True
                continue

            end = data.find(END_BLOCK, position)
            chunk_end = len(view) if end < 0 else end
            self._buffer += view[position:chunk_end]
            if len(self._buffer) > self.max_message_bytes:
                size = len(self._buffer)
                head = bytes(self._buffer[:HEAD_BYTES])
                self._reset()
                raise FrameTooLarge(size, self.max_message_bytes, head)
            if end < 0:
                break
            messages.append(bytes(self._buffer))
            self._reset()
            # The carriage return after the end block is optional in practice.
            position = end + 1
            if data[position:position + 1] == CARRIAGE_RETURN:
                position += 1
        return messages

    def _reset(self) -> None:
        self._buffer = bytearray()
        self._in_frame = False
