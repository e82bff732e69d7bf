"""The asyncio MLLP listener: many connections, many messages per connection, one ACK each.

Each connection reads bytes into a FrameDecoder and hands the complete frames
of each read to the MessageHandler in a worker thread, so ACKs leave in the
order messages arrived. Several frames in one read come from a sender that
pipelines, and the handler acknowledges them as one group. A frame over the size
limit gets an AR and the connection keeps serving; a connection silent for
the idle timeout is closed.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from heals.connectors.hl7.errors import ErrorCode
from heals.connectors.hl7.handler import MessageHandler
from heals.connectors.hl7.mllp import FrameDecoder, FrameTooLarge, frame

__all__ = ["MllpListener"]

logger = logging.getLogger(__name__)

READ_BYTES = 64 * 1024


class MllpListener:
    """An MLLP server on one address that replies to every frame through a MessageHandler."""

    def __init__(self, handler: MessageHandler, host: str, port: int, *, max_message_bytes: int,
                 idle_timeout_seconds: float, workers: int = 8) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self.idle_timeout_seconds = idle_timeout_seconds
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hl7")
        self.server: asyncio.base_events.Server | None = None
        self._connections: dict[asyncio.Task, asyncio.StreamWriter] = {}

    async def start(self) -> None:
        """Open the listening socket; port 0 picks a free port, stored in self.port."""
        self.server = await asyncio.start_server(self._serve, self.host, self.port, limit=READ_BYTES)
        self.port = self.server.sockets[0].getsockname()[1]
        logger.info("MLLP listener on %s:%d", self.host, self.port)

    async def serve_forever(self) -> None:
        """Start and serve until cancelled."""
        if self.server is None:
            await self.start()
        async with self.server:
            await self.server.serve_forever()

    async def stop(self) -> None:
        """Stop accepting connections, close open ones after their current frame, and wait for the workers."""
        if self.server is not None:
            self.server.close()
        for writer in self._connections.values():
            writer.close()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()
        self.pool.shutdown(wait=True)
        logger.info("MLLP listener on %s:%d stopped", self.host, self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if address else "unknown"
        decoder = FrameDecoder(self.max_message_bytes)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        self._connections[task] = writer
        logger.debug("connection from %s", peer)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(READ_BYTES), self.idle_timeout_seconds)
                except asyncio.TimeoutError:
                    logger.info("closing connection from %s after %.0f s idle", peer, self.idle_timeout_seconds)
                    break
                if not data:
                    break
                try:
                    messages = decoder.feed(data)
                except FrameTooLarge as exc:
                    logger.warning("frame from %s: %s", peer, exc)
                    ack = self.handler.reject_frame(exc.head, exc, peer, ErrorCode.APPLICATION_INTERNAL_ERROR)
                    writer.write(frame(ack))
                    await writer.drain()
                    continue
                if not messages:
                    continue
                # Frames that arrived together were sent without waiting for ACKs, so they are handled as one group.
                acks, archive = await loop.run_in_executor(self.pool, self._answer, messages, peer)
                writer.write(b"".join(frame(ack) for ack in acks))
                await writer.drain()
                # Archiving only queues records for the producer, so it does not block the loop.
                archive()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            logger.info("connection from %s ended: %s", peer, type(exc).__name__)
        finally:
            self._connections.pop(task, None)
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass

    def _answer(self, messages: list[bytes], peer: str) -> tuple[list[bytes], Callable[[], None]]:
        try:
            if len(messages) == 1:
                ack, archive = self.handler.handle_frame_deferred(messages[0], peer)
                return [ack], archive
            return self.handler.handle_frames_deferred(messages, peer)
        except Exception as exc:  # every frame gets a reply, and the connection keeps serving
            logger.exception("%d frames from %s could not be handled", len(messages), peer)
            return [self.handler.reject_frame(message[:4096], exc, peer) for message in messages], lambda: None
