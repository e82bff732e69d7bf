"""The closing report of `heals demo`: ACKs, events per topic, census, timeline, alerts, dead letters."""

from __future__ import annotations

import collections
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import click
import httpx
from confluent_kafka import Consumer, TopicPartition

from heals.codec import Codec
from heals.run.formatting import alert_line, census_line, timeline_lines
from heals.kafka import client_config, make_consumer
from heals.settings import Settings
from heals.topics import topic_catalogue

__all__ = [
    "AckSummary", "consumer_group_lag", "partition_ends", "print_report", "read_dead_letters", "records_since", "topic_ends",
]


@dataclass
class AckSummary:
    """ACK codes received for the messages sent, and (name, ACK code, ACK text) of each message."""

    codes: collections.Counter
    outcomes: list[tuple[str, str, str]]

    @property
    def rejects(self) -> list[tuple[str, str, str]]:
        """The outcomes of messages that were not accepted."""
        return [outcome for outcome in self.outcomes if outcome[1] not in ("AA", "CA")]


def topic_ends(settings: Settings) -> dict[str, dict[int, int]]:
    """Return the high-water mark of each partition of every catalogue topic."""
    return {topic.name: partition_ends(settings, topic.name) for topic in topic_catalogue(settings)}


def records_since(settings: Settings, topic: str, since: dict[int, int]) -> list[tuple[int, int, bytes]]:
    """Return (partition, offset, value) of each committed record written after the given offsets.

    Offsets cannot be subtracted to count records: each Kafka transaction's
    commit marker takes an offset too, so the records are read.
    """
    consumer = make_consumer(settings, f"heals-demo-{uuid.uuid4().hex}", **{"enable.partition.eof": True})
    try:
        metadata = consumer.list_topics(topic, timeout=15)
        if topic not in metadata.topics:
            return []
        partitions = metadata.topics[topic].partitions
        remaining = {
            p for p in partitions
            if consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] > since.get(p, 0)
        }
        if not remaining:
            return []
        consumer.assign([TopicPartition(topic, p, since.get(p, 0)) for p in remaining])
        records = []
        while remaining:
            message = consumer.poll(5)
            if message is None:
                break
            if message.error():
                remaining.discard(message.partition())
                continue
            records.append((message.partition(), message.offset(), message.value()))
        return records
    finally:
        consumer.close()


def read_dead_letters(settings: Settings, codec: Codec, topic: str, since: dict[int, int]) -> list[dict[str, Any]]:
    """Return the dead letters written to a topic after the given per-partition offsets."""
    return [
        codec.decode(value, topic=topic, partition=partition, offset=offset).value
        for partition, offset, value in records_since(settings, topic, since)
    ]


def partition_ends(settings: Settings, topic: str) -> dict[int, int]:
    """Return the high-water mark of each partition of a topic."""
    consumer = Consumer({**client_config(settings), "group.id": f"heals-demo-{uuid.uuid4().hex}"})
    try:
        metadata = consumer.list_topics(topic, timeout=15)
        if topic not in metadata.topics:
            return {}
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in metadata.topics[topic].partitions
        }
    finally:
        consumer.close()


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        return {"error": f"GET {path} failed: {exc}"}
    if response.status_code != 200:
        return {"error": f"GET {path} returned HTTP {response.status_code}"}
    return response.json()


def _items(body: Any) -> list[Any]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("items", "patients", "beds", "entries", "alerts", "census"):
            if isinstance(body.get(key), list):
                return body[key]
    return []


MAX_ROWS = 20


def _needs_attention(alert: dict[str, Any]) -> bool:
    # An early-warning record in the low band, or still incomplete, is a
    # score worth keeping but not something a ward is called about.
    if alert.get("kind") != "EarlyWarningScoreChanged":
        return True
    summary = alert.get("summary") or {}
    return summary.get("state") != "incomplete" and summary.get("clinical_risk") not in (None, "low")


def _echo_rows(
    body: Any,
    render: Callable[[dict[str, Any]], str],
    keep: Callable[[dict[str, Any]], bool],
    show: Callable[[dict[str, Any]], bool] = lambda row: True,
    hidden: str = "",
) -> None:
    if isinstance(body, dict) and "error" in body:
        click.echo(f"  {body['error']}")
        return
    rows = _items(body)
    this_run = [row for row in rows if keep(row)]
    displayed = [row for row in this_run if show(row)]
    if not displayed:
        click.echo("  none")
    for row in displayed[:MAX_ROWS]:
        click.echo(f"  {render(row)}")
    if len(displayed) > MAX_ROWS:
        click.echo(f"  ({len(displayed) - MAX_ROWS} more)")
    if len(displayed) < len(this_run):
        click.echo(f"  ({len(this_run) - len(displayed)} {hidden} not shown)")
    if len(this_run) < len(rows):
        click.echo(f"  ({len(rows) - len(this_run)} more from earlier runs)")


def _section(title: str) -> None:
    click.echo()
    click.secho(title, bold=True)


def consumer_group_lag(settings: Settings, group_id: str, topics: list[str]) -> int:
    """Return how many records of the topics the consumer group has not committed yet."""
    consumer = Consumer({**client_config(settings), "group.id": group_id, "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=15)
        partitions = [TopicPartition(t, p) for t in topics if t in metadata.topics for p in metadata.topics[t].partitions]
        committed = consumer.committed(partitions, timeout=15)
        lag = 0
        for position in committed:
            end = consumer.get_watermark_offsets(TopicPartition(position.topic, position.partition), timeout=10)[1]
            lag += end - max(position.offset, 0)
        return lag
    finally:
        consumer.close()


def print_report(
    settings: Settings,
    acks: AckSummary,
    events_before: dict[str, dict[int, int]],
    dead_letters: list[dict[str, Any]],
    run_tag: str | None,
    patient_number: str,
) -> None:
    """Print every section of the demo's closing report.

    With a run tag (the built-in hospital day), the census and alerts show this
    run's patients, whose MRNs start with the tag, and count the others.
    """
    base = f"http://{settings.http_host}:{settings.http_port}"
    patient_id = f"{run_tag}{patient_number}" if run_tag else None
    ours = (lambda row: str(row.get("patient_id", "")).startswith(run_tag)) if run_tag else (lambda row: True)

    _section("ACKs by code")
    for code, count in sorted(acks.codes.items()):
        click.echo(f"  {code}: {count}")
    if run_tag:
        for name, code, text in acks.rejects:
            click.echo(f"  {code} {name}: {text}")

    _section("Events written per topic during the demo")
    for topic, before in sorted(events_before.items()):
        count = len(records_since(settings, topic, before))
        if count:
            click.echo(f"  {topic:28} {count}")

    with httpx.Client(base_url=base, timeout=10) as client:
        _section("Census")
        census = _get(client, "/census", limit=500)
        _echo_rows(census, census_line, ours)

        if patient_id:
            _section(f"Timeline of patient {patient_id}")
            timeline = _get(client, f"/patients/{patient_id}/timeline", limit=500)
            if "error" in timeline:
                click.echo(f"  {timeline['error']}")
            for line in timeline_lines(_items(timeline)):
                click.echo(f"  {line}")

        _section("Open alerts")
        _echo_rows(_get(client, "/alerts", status="open", limit=500), alert_line, ours, show=_needs_attention,
                   hidden="low-risk or incomplete early-warning scores")

    _section("Dead letters")
    if not dead_letters:
        click.echo("  none")
    for letter in dead_letters:
        click.echo(f"  {letter['component']}: {letter['error_type']}: {letter['error']}")

    _section("Explore next")
    click.echo(f"  API docs      {base}/docs")
    click.echo(f"  census        {base}/census")
    click.echo(f"  open alerts   {base}/alerts?status=open")
    if patient_id:
        click.echo(f"  timeline      {base}/patients/{patient_id}/timeline")
    click.echo(f"  send HL7      heals hl7 send FILE --host {settings.mllp_host} --port {settings.mllp_port}")
