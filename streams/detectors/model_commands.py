"""`heals models`: train learned detectors by replaying history."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import click
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from heals.errors import DecodeError, HealsError
from heals.kafka import make_consumer
from heals.registry import make_codec
from heals.settings import Settings, get_settings
from heals.streams.detectors.charge_model import charge_features, next_version, save, train
from heals.streams.detectors.settings import get_detector_settings

__all__ = ["models", "replay_charges"]

logger = logging.getLogger(__name__)


def replay_charges(settings: Settings, topic: str, timeout: float = 60.0) -> list[dict]:
    """Read every ChargePosted on a topic from offset 0 to the current end; return their features."""
    consumer = make_consumer(settings, f"heals-train-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": True})
    codec = make_codec(settings)
    try:
        metadata = consumer.list_topics(topic, timeout=15).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise HealsError(f"topic {topic!r} not found; create it with `heals topics apply` or set HEALS_DETECTORS_CHARGES_TOPIC")
        partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=15)[1] for p in partitions}
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign(partitions)
        rows, skipped = [], 0
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            if message.offset() >= ends[message.partition()] - 1:
                pending.discard(message.partition())
            try:
                record = codec.decode(message.value(), topic=topic, partition=message.partition(), offset=message.offset())
            except DecodeError as exc:
                skipped += 1
                logger.warning("training skipped an undecodable record: %s", exc)
                continue
            if record.event_type == "ChargePosted":
                rows.append(charge_features(record.value))
        if pending:
            raise HealsError(f"replay of {topic} did not reach the end of partitions {sorted(pending)} within {timeout:.0f} s")
        logger.info("replayed %d charges from %s (%d undecodable records skipped)", len(rows), topic, skipped)
        return rows
    finally:
        consumer.close()


@click.group()
def models() -> None:
    """Train and inspect learned detector models."""


@models.group(name="train")
def train_group() -> None:
    """Train a model by replaying its topic."""


@train_group.command(name="charge-anomaly")
@click.option("--topic", default=None, help="Topic to replay; default HEALS_DETECTORS_CHARGES_TOPIC.")
@click.option("--model-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of model versions; default HEALS_DETECTORS_CHARGE_MODEL_DIR.")
@click.option("--quantile", default=0.001, show_default=True, type=click.FloatRange(0.0001, 0.2),
              help="Share of training charges that score below the alert threshold.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds allowed for the replay.")
def train_charge_anomaly(topic: str | None, model_dir: Path | None, quantile: float, timeout: float) -> None:
    """Replay billing.charges.v1, fit an IsolationForest and save it as the next version."""
    detector_settings = get_detector_settings()
    model_dir = model_dir or detector_settings.charge_model_dir
    rows = replay_charges(get_settings(), topic or detector_settings.charges_topic, timeout)
    model = train(rows, version=next_version(model_dir), quantile=quantile)
    path = save(model, model_dir)
    click.echo(f"charge-anomaly {model.version}: {model.training_charges} charges, threshold {model.threshold:.4f}, saved to {path}")
