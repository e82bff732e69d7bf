"""The `heals relay` and `heals verify` commands."""

from __future__ import annotations

import logging
import signal

import click
from confluent_kafka import KafkaException

from heals.commands.relay import Relay
from heals.commands.settings import load_write_settings
from heals.commands.store import EventStore
from heals.commands.verify import WRITE_SIDE_TOPICS, verify_topics
from heals.errors import InfraError
from heals.registry import make_codec
from heals.settings import get_settings

__all__ = ["relay", "verify"]

logger = logging.getLogger(__name__)


@click.command()
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None,
              help="Events per Kafka transaction [default: HEALS_RELAY_BATCH_SIZE, 500].")
@click.option("--schema", default=None, help="PostgreSQL schema of the event store [default: HEALS_EVENT_STORE_SCHEMA].")
@click.option("--name", default=None, help="Table prefix of the event store [default: HEALS_EVENT_STORE_NAME].")
@click.option("--topic-prefix", default="", help="Text put before every event topic name, for test and staging runs.")
@click.option("--transactional-id", default=None, help="Kafka transactional.id [default: HEALS_RELAY_TRANSACTIONAL_ID].")
@click.option("--position-topic", default=None, help="Topic of the relay's position [default: HEALS_RELAY_POSITION_TOPIC].")
@click.option("--drain", is_flag=True, help="Stop once the event log is published instead of waiting for more events.")
def relay(batch_size: int | None, schema: str | None, name: str | None, topic_prefix: str,
          transactional_id: str | None, position_topic: str | None, drain: bool) -> None:
    """Publish the event store's events to Kafka exactly once, in store order."""
    settings = get_settings()
    store = EventStore(settings, schema=schema, name=name, pool_size=1, write_settings=load_write_settings())
    topic_names = {topic: topic_prefix + topic for topic in WRITE_SIDE_TOPICS} if topic_prefix else None
    publisher = Relay(settings, store, write_settings=load_write_settings(), transactional_id=transactional_id,
                      position_topic=position_topic, batch_size=batch_size, topic_names=topic_names)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        logger.info("relay stopping on signal %d", signum)
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        publisher.start()
        published = publisher.drain() if drain else publisher.run(lambda: stopping)
        logger.info("relay stopped after publishing %d events, at position %d", published, publisher.position)
    except KafkaException as exc:
        # A fenced or failed producer cannot go on; a restart resumes from the committed position.
        raise InfraError(f"relay {publisher.transactional_id} stopped at position {publisher.position}: {exc}") from exc
    finally:
        publisher.close()
        store.close()


@click.command()
@click.option("--topic", "topics", multiple=True,
              help="Topic to check; repeat for several [default: the four write-side topics].")
@click.option("--skip-gap-check", is_flag=True,
              help="Do not report missing versions, for checking some of the topics an aggregate spans.")
def verify(topics: tuple[str, ...], skip_gap_check: bool) -> None:
    """Recompute every aggregate's hash chain from offset 0; exit 1 at the first break."""
    settings = get_settings()
    report = verify_topics(settings, make_codec(settings), topics or WRITE_SIDE_TOPICS, check_gaps=not skip_gap_check)
    first = report.first_break
    if first is None:
        click.echo(f"ok: {report.records} records, {report.aggregates} aggregates, every chain holds")
        return
    click.echo(first.describe())
    click.echo(f"{len(report.breaks)} breaks in {report.records} records of {report.aggregates} aggregates", err=True)
    raise SystemExit(1)
