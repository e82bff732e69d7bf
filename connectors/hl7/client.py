"""An MLLP client: send messages in order, one ACK awaited for each; and ACK reading."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from heals.connectors.hl7.mllp import FrameDecoder, frame
from heals.errors import HealsError

__all__ = ["AckSummary", "MllpClient", "read_ack", "read_acks", "messages_in"]


@dataclass(frozen=True)
class AckSummary:
    """The parts of an ACK an operator reads: MSA-1, MSA-2 and the error text."""

    code: str
    control_id: str
    text: str
    raw: bytes


def _unescape(text: str, field_separator: str, encoding: str) -> str:
    padded = (encoding + "^~\\&")[:4] if len(encoding) < 4 else encoding
    component, repetition, escape, subcomponent = padded[0], padded[1], padded[2], padded[3]
    for name, char in (("F", field_separator), ("S", component), ("T", subcomponent), ("R", repetition)):
        text = text.replace(f"{escape}{name}{escape}", char)
    return text.replace(f"{escape}.br{escape}", "\n").replace(f"{escape}E{escape}", escape)


def read_ack(raw: bytes) -> AckSummary:
    """Read MSA-1, MSA-2 and the error text from an ACK; a batch ACK gives its first message's.

    The text is MSA-3, else each ERR's ERR-8 user message, else the text in
    ERR-3 (v2.5 and later) or ERR-1 (earlier versions).
    """
    text = raw.decode("utf-8", "replace")
    lines = [line for line in text.replace("\n", "\r").split("\r") if line]
    msh = next((line for line in lines if line.startswith("MSH")), "")
    separator = msh[3:4] or "|"
    encoding = msh[4:].split(separator)[0] if msh else "^~\\&"
    component = encoding[:1] or "^"
    subcomponent = encoding[3:4] or "&"
    msa = next((line.split(separator) for line in lines if line.startswith("MSA")), [])
    code = msa[1] if len(msa) > 1 else ""
    control_id = _unescape(msa[2], separator, encoding) if len(msa) > 2 else ""

    texts = [msa[3]] if len(msa) > 3 and msa[3] else []
    for err in (line.split(separator) for line in lines if line.startswith("ERR")):
        if texts:
            break
        if len(err) > 8 and err[8]:
            texts.append(err[8])
        elif len(err) > 3 and err[3]:
            parts = err[3].split(component)
            texts.append(parts[1] if len(parts) > 1 else parts[0])
        elif len(err) > 1 and err[1]:
            parts = err[1].split(component)
            detail = parts[3].split(subcomponent) if len(parts) > 3 else []
            texts.append(detail[1] if len(detail) > 1 else err[1])
    return AckSummary(code, control_id, _unescape("; ".join(texts), separator, encoding), raw)


def read_acks(raw: bytes) -> list[AckSummary]:
    """Read every ACK of a reply: one for a single message, one per message for a batch reply."""
    text = raw.replace(b"\n", b"\r")
    starts = [index for index in range(len(text)) if text.startswith(b"MSH", index) and (index == 0 or text[index - 1:index] == b"\r")]
    if len(starts) <= 1:
        return [read_ack(raw)]
    ends = starts[1:] + [len(text)]
    return [read_ack(text[start:end]) for start, end in zip(starts, ends)]


def messages_in(paths: list[Path]) -> Iterator[tuple[Path, bytes]]:
    """Yield the frames to send from files and folders (sorted by name): one per file, as written."""
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            yield file, file.read_bytes()


class ClientError(HealsError):
    """The MLLP peer closed the connection or sent no ACK in time."""


class MllpClient:
    """One MLLP connection; send() waits for the ACK of each message."""

    def __init__(self, host: str, port: int, timeout_seconds: float = 30.0, max_ack_bytes: int = 16 * 1024 * 1024) -> None:
        self.address = (host, port)
        self.timeout_seconds = timeout_seconds
        self.socket = socket.create_connection(self.address, timeout=timeout_seconds)
        self.decoder = FrameDecoder(max_ack_bytes)
        self._pending: list[bytes] = []

    def send(self, message: bytes) -> bytes:
        """Send one message and return its ACK's bytes."""
        self.socket.sendall(frame(message))
        return self.receive()

    def receive(self) -> bytes:
        """Return the next ACK frame."""
        while not self._pending:
            try:
                data = self.socket.recv(65536)
            except socket.timeout as exc:
                raise ClientError(f"no ACK from {self.address[0]}:{self.address[1]} within {self.timeout_seconds} s") from exc
            if not data:
                raise ClientError(f"{self.address[0]}:{self.address[1]} closed the connection before sending an ACK")
            self._pending.extend(self.decoder.feed(data))
        return self._pending.pop(0)

    def close(self) -> None:
        """Close the connection."""
        self.socket.close()

    def __enter__(self) -> "MllpClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

