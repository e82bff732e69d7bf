"""The Faust agent of the alerts projection: clinical.alerts.v1 into PostgreSQL rows and the live feed.

An event is published to the feed only when it changed the rows, so a
redelivered event reaches subscribers once. A failure of PostgreSQL or
Redis is retried on the same record, never skipped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from heals.errors import DecodeError
from heals.projections.alerts.feed import AlertFeed
from heals.projections.alerts.store import AlertsStore
from heals.registry import make_codec
from heals.settings import get_settings
from heals.streams.app import app
from heals.streams.detectors.settings import get_detector_settings

__all__ = ["project_alerts"]

logger = logging.getLogger(__name__)

MAX_RETRY_PAUSE_SECONDS = 30.0
BATCH_SIZE = 100
BATCH_SECONDS = 0.01

_settings = get_settings()
_detector_settings = get_detector_settings()
_codec = make_codec(_settings)

_alerts = app.topic(_detector_settings.alerts_topic, key_type=bytes, value_type=bytes,
                    key_serializer="raw", value_serializer="raw")


def _apply(store: AlertsStore, feed: AlertFeed, message: Any, value: bytes) -> None:
    try:
        record = _codec.decode(value, topic=message.topic, partition=message.partition, offset=message.offset)
    except DecodeError as exc:
        # The detectors' agent reads the same topic and parks undecodable records there.
        logger.warning("alerts projection skipped undecodable record: %s", exc)
        return
    if store.apply(record.value):
        feed.publish(record.value)


@app.agent(_alerts, name="heals.projection.alerts", concurrency=1)
async def project_alerts(stream: Any) -> None:
    """Fold alert events into the alerts projection and publish them on the feed."""
    store = AlertsStore(_settings.postgres_url, _detector_settings.alerts_db_schema)
    await asyncio.to_thread(store.create)
    feed = AlertFeed(_settings.redis, _detector_settings.alerts_channel)
    logger.info("alerts projection started on %s, schema %s", _detector_settings.alerts_topic,
                _detector_settings.alerts_db_schema)
    # take_events() acks a batch when the loop body finishes, so no record is
    # left unacked while the topic is idle.
    async for events in stream.take_events(BATCH_SIZE, within=BATCH_SECONDS):
        for event in events:
            pause = 0.5
            while True:
                try:
                    await asyncio.to_thread(_apply, store, feed, event.message, event.value)
                    break
                except Exception:  # PostgreSQL or Redis failed: retry the same record
                    logger.exception("alerts projection failed on offset %s; retrying in %.1f s",
                                     event.message.offset, pause)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, MAX_RETRY_PAUSE_SECONDS)
