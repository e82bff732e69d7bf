"""An MLLP client: send messages in order, one ACK awaited for each; and ACK reading."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from heals.connectors.hl7.mllp import FrameDecoder, frame
from heals.errors import HealsError

__all__ = ["AckSummary", "MllpClient", "read_ack", "messages_in"]


@dataclass(frozen=True)
class AckSummary:
    """What an operator needs from an ACK: MSA-1, MSA-2 and the error text."""

    code: str
    control_id: str
    text: str
    raw: bytes


def _unescape(text: str, separators: str) -> str:
    escape = separators[3] if len(separators) > 3 else "\\"
    for name, char in (("F", "|"), ("S", separators[0:1] or "^"), ("T", separators[3:4] or "&"), ("R", separators[1:2] or "~")):
        text = text.replace(f"{escape}{name}{escape}", char)
    return text.replace(f"{escape}E{escape}", escape)


def read_ack(raw: bytes) -> AckSummary:
    """Read MSA-1, MSA-2 and the error text (ERR-8, else MSA-3, else ERR-1/ERR-3) from an ACK; batches use their first ACK."""
    text = raw.decode("utf-8", "replace")
    lines = [line for line in text.replace("\n", "\r").split("\r") if line]
    msh = next((line for line in lines if line.startswith("MSH")), "")
    separator = msh[3:4] or "|"
    encoding = msh[4:].split(separator)[0] if msh else "^~\\&"
    msa = next((line.split(separator) for line in lines if line.startswith("MSA")), [])
    errors = [line.split(separator) for line in lines if line.startswith("ERR")]
    code = msa[1] if len(msa) > 1 else ""
    control_id = _unescape(msa[2], encoding) if len(msa) > 2 else ""
    texts = []
    for err in errors:
        if len(err) > 8 and err[8]:
            texts.append(err[8])
        elif len(err) > 3 and err[3]:
            texts.append(err[3].split(encoding[:1])[1] if encoding[:1] in err[3] else err[3])
        elif len(err) > 1 and err[1]:
            texts.append(err[1])
    if not texts and len(msa) > 3 and msa[3]:
        texts.append(msa[3])
    return AckSummary(code, control_id, _unescape("; ".join(texts), encoding), raw)


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

