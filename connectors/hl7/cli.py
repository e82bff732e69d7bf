"""`heals hl7 listen` and `heals hl7 send`: the MLLP listener and an operator's MLLP client."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from heals.settings import get_settings

__all__ = ["hl7"]

logger = logging.getLogger(__name__)


@click.group()
def hl7() -> None:
    """HL7 v2 over MLLP."""


@hl7.command()
@click.option("--host", default=None, help="Address to listen on; default HEALS_MLLP_HOST.")
@click.option("--port", type=int, default=None, help="Port to listen on; default HEALS_MLLP_PORT (0 picks a free port).")
@click.option("--event-store-schema", default=None, help="PostgreSQL schema of the event store; default the write side's.")
@click.option("--crash", type=click.Choice(["after-commit", "before-ack"]), default=None, hidden=True,
              help="Test hook: exit after the first accepted message's events are durable, before its ACK is "
                   "stored (after-commit) or before it is sent (before-ack).")
def listen(host: str | None, port: int | None, event_store_schema: str | None, crash: str | None) -> None:
    """Run the MLLP listener until interrupted."""
    from heals.commands.service import CommandService
    from heals.connectors.hl7.app import build_listener
    from heals.connectors.hl7.handler import exit_now
    from heals.connectors.hl7.settings import ListenerSettings

    settings = get_settings()
    executor = CommandService(settings, schema=event_store_schema)
    parts = build_listener(
        settings, ListenerSettings(), executor, host=host, port=port,
        after_commit=exit_now if crash == "after-commit" else None,
        before_ack=exit_now if crash == "before-ack" else None,
    )

    async def run() -> None:
        await parts.listener.start()
        # Tests and supervisors read this line to learn the port.
        click.echo(f"listening on {parts.listener.host}:{parts.listener.port}", err=True)
        await parts.listener.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        parts.close()


@hl7.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--host", default=None, help="Listener address; default HEALS_MLLP_HOST.")
@click.option("--port", type=int, default=None, help="Listener port; default HEALS_MLLP_PORT.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for each ACK.")
def send(paths: tuple[Path, ...], host: str | None, port: int | None, timeout: float) -> None:
    """Send files (folders: every file, by name) in order over one connection; print each ACK."""
    from heals.connectors.hl7.client import MllpClient, messages_in, read_acks

    settings = get_settings()
    with MllpClient(host or settings.mllp_host, port or settings.mllp_port, timeout) as client:
        for path, message in messages_in(list(paths)):
            # A batch gets a batch of ACKs: one line for each.
            for ack in read_acks(client.send(message)):
                text = f"  {ack.text}" if ack.text else ""
                click.echo(f"{path.name}: {ack.code} {ack.control_id}{text}")
