"""`heals demo`: send a hospital day (or the user's own messages) through MLLP and show the result."""

from __future__ import annotations

import collections
import logging
import datetime as dt
import time
from pathlib import Path

import click

from heals.connectors.hl7.client import ClientError, MllpClient, messages_in, read_ack
from heals.infra import reachable
from heals.registry import make_codec
from heals.run.hospital_day import DETERIORATING_PATIENT, hospital_day, new_run_tag
from heals.run.report import (
    AckSummary, consumer_group_lag, partition_ends, print_report, read_dead_letters, topic_ends,
)
from heals.streams.settings import get_stream_settings
from heals.topics import ADT, ALERTS, CHARGES, ORDERS, READINGS, RESULTS
from heals.run.up_command import prepare_services, start_components, supervise_until_signal
from heals.settings import Settings, get_settings

__all__ = ["demo"]

DEAD_LETTER_TOPIC = "dlq.hl7"
CATCH_UP_SECONDS = 90.0


def _components_running(settings: Settings) -> bool:
    return reachable(settings.http_host, settings.http_port) and reachable(settings.mllp_host, settings.mllp_port)


def _send(settings: Settings, messages: list[tuple[str, bytes]]) -> AckSummary:
    codes: collections.Counter = collections.Counter()
    outcomes = []
    with MllpClient(settings.mllp_host, settings.mllp_port, timeout_seconds=60) as client:
        with click.progressbar(messages, label="Sending HL7 messages over MLLP", show_pos=True) as bar:
            for name, payload in bar:
                try:
                    ack = read_ack(client.send(payload))
                except ClientError as exc:
                    codes["no ACK"] += 1
                    outcomes.append((name, "no ACK", str(exc)))
                    client = MllpClient(settings.mllp_host, settings.mllp_port, timeout_seconds=60)
                    continue
                codes[ack.code or "?"] += 1
                outcomes.append((name, ack.code, ack.text))
    return AckSummary(codes, outcomes)


def _wait_for_stream_worker(settings: Settings) -> None:
    # Projections and detectors are eventually consistent: wait until the
    # stream worker's consumer group lag stops changing for three polls in a
    # row, or give up after CATCH_UP_SECONDS and report what is there. The
    # lag never reaches zero on topics the relay writes in transactions,
    # because each commit marker takes an offset that no record fills.
    group_id = get_stream_settings().app_id
    topics = [topic.name for topic in (ADT, ORDERS, RESULTS, READINGS, CHARGES, ALERTS)]
    deadline = time.monotonic() + CATCH_UP_SECONDS
    settled, previous = 0, -1
    while time.monotonic() < deadline and settled < 3:
        time.sleep(2)
        lag = consumer_group_lag(settings, group_id, topics)
        settled = settled + 1 if lag == previous else 0
        previous = lag
    if settled < 3:
        click.echo(f"The stream worker was still catching up after {CATCH_UP_SECONDS:.0f} s; the report shows what it has done so far.")


def _messages(input_dir: tuple[Path, ...]) -> tuple[list[tuple[str, bytes]], str | None]:
    """Return (name, bytes) of each message to send, and the run tag of a built-in day."""
    if input_dir:
        return [(path.name, payload) for path, payload in messages_in(list(input_dir))], None
    run_tag = new_run_tag()
    day = hospital_day(dt.datetime.now(dt.timezone.utc).date(), run_tag)
    return [(message.name, message.to_bytes()) for message in day], run_tag


@click.command()
@click.option("--input", "input_dir", type=click.Path(exists=True, path_type=Path), multiple=True,
              help="Send these HL7 files or folders instead of the built-in hospital day.")
@click.option("--no-infra", is_flag=True, help="Do not start Kafka, PostgreSQL and Redis: they are external.")
@click.option("--keep-running", is_flag=True,
              help="Keep the components running after the report, until Ctrl-C or SIGTERM.")
def demo(input_dir: tuple[Path, ...], no_infra: bool, keep_running: bool) -> None:
    """Run HEALS on a realistic hospital day and print what it made of it."""
    settings = get_settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    supervisor = None
    if _components_running(settings):
        click.echo("Using the HEALS components already running.")
    else:
        prepare_services(no_infra)
        log_path = settings.state_dir / "demo-components.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        click.echo(f"Starting relay, stream worker, API and MLLP listener (their log: {log_path}) ...")
        supervisor = start_components(ready_timeout=180, out=log_path.open("a", encoding="utf-8"))
        click.echo("All components ready.")

    try:
        messages, run_tag = _messages(input_dir)
        events_before = topic_ends(settings)
        dead_letters_from = partition_ends(settings, DEAD_LETTER_TOPIC)
        acks = _send(settings, messages)
        if input_dir:
            click.echo()
            click.secho("Outcome per message", bold=True)
            for name, code, text in acks.outcomes:
                click.echo(f"  {code:6} {name}" + (f": {text}" if text else ""))
        click.echo("Waiting for the projections to catch up ...")
        _wait_for_stream_worker(settings)
        dead_letters = read_dead_letters(settings, make_codec(settings), DEAD_LETTER_TOPIC, dead_letters_from)
        print_report(settings, acks, events_before, dead_letters, run_tag, DETERIORATING_PATIENT)
        if supervisor is not None and keep_running:
            click.echo("\nThe components keep running for you to explore; Ctrl-C stops them.")
            supervise_until_signal(supervisor)
    finally:
        if supervisor is not None:
            if not keep_running:
                click.echo("\nStopping the components (use --keep-running to keep them).")
            supervisor.stop()
