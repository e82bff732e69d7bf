"""Faust agents of the detectors: one over every input topic, and a timer that escalates alerts.

The agent hands each record to a DetectorEngine in a worker thread and
takes the next record only after the engine returned, so Faust commits an
offset only after the record's state and alerts were committed to
PostgreSQL. When PostgreSQL or Kafka fails, the agent retries the same
record with a growing pause instead of skipping it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from heals.kafka import make_producer
from heals.registry import make_codec
from heals.settings import get_settings
from heals.streams.app import app
from heals.streams.detectors.engine import DetectorEngine
from heals.streams.detectors.settings import get_detector_settings
from heals.streams.detectors.store import DetectorStore

__all__ = ["detect", "escalate"]

logger = logging.getLogger(__name__)

MAX_RETRY_PAUSE_SECONDS = 30.0

_settings = get_settings()
_detector_settings = get_detector_settings()


def _make_engine() -> DetectorEngine:
    store = DetectorStore(_settings.postgres_url, _detector_settings.db_schema)
    store.create()
    return DetectorEngine(_settings, _detector_settings, store, make_codec(_settings), make_producer(_settings))


async def _with_retries(what: str, call: Callable[[], Any]) -> Any:
    pause = 0.5
    while True:
        try:
            return await asyncio.to_thread(call)
        except Exception:  # any failure of PostgreSQL, Kafka or a detector: retry, never skip
            logger.exception("%s failed; retrying in %.1f s", what, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_PAUSE_SECONDS)


_inputs = app.topic(
    _detector_settings.readings_topic, _detector_settings.results_topic, _detector_settings.adt_topic,
    _detector_settings.charges_topic, _detector_settings.alerts_topic,
    key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
)


@app.agent(_inputs, name="heals.detectors", concurrency=1)
async def detect(stream: Any) -> None:
    """Run every detector over its input events."""
    engine = await asyncio.to_thread(_make_engine)
    await _with_retries("sending the alert outbox", engine.send_outbox)
    logger.info("detectors started, state in schema %s, alerts to %s",
                _detector_settings.db_schema, _detector_settings.alerts_topic)
    async for event in stream.events():
        message = event.message
        where = f"record {message.topic}[{message.partition}]@{message.offset}"
        await _with_retries(where, lambda: engine.handle(message.topic, event.value, message.key,
                                                         message.partition, message.offset))


_escalation_engine: DetectorEngine | None = None


@app.timer(_detector_settings.escalation_check_seconds)
async def escalate() -> None:
    """Escalate critical-result alerts left unacknowledged past their time."""
    global _escalation_engine
    if _escalation_engine is None:
        _escalation_engine = await asyncio.to_thread(_make_engine)
    await _with_retries("escalating alerts", _escalation_engine.escalate)
