"""Faust agents of the detectors: one over every input topic, and a timer that escalates alerts.

The agent hands each batch of records to a DetectorEngine in a worker
thread, which handles them in order in one PostgreSQL transaction. Faust
acks the batch only after the engine returned, so an offset is committed
only after the record's state and alerts were committed. When PostgreSQL or Kafka fails, the agent retries the same
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
from heals.streams.detectors.engine import DetectorEngine, RawRecord
from heals.streams.detectors.settings import get_detector_settings
from heals.streams.detectors.store import DetectorStore

__all__ = ["detect", "escalate"]

logger = logging.getLogger(__name__)

MAX_RETRY_PAUSE_SECONDS = 30.0
# take_events() acks a batch when the loop body finishes. stream.events()
# would leave the last record unacked until the next one arrives, and Faust
# waits for unacked records at shutdown.
BATCH_SIZE = 100
BATCH_SECONDS = 0.01

_settings = get_settings()
_detector_settings = get_detector_settings()


def _make_engine() -> DetectorEngine:
    store = DetectorStore(_settings.postgres_url, _detector_settings.db_schema)
    store.create()
    # linger.ms 0: alerts are few and each one is waited for, so batching them only adds latency.
    producer = make_producer(_settings, **{"linger.ms": 0})
    return DetectorEngine(_settings, _detector_settings, store, make_codec(_settings), producer)


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
    async for events in stream.take_events(BATCH_SIZE, within=BATCH_SECONDS):
        records = [RawRecord(e.message.topic, e.value, e.message.key, e.message.partition, e.message.offset)
                   for e in events]
        first = records[0]
        where = f"batch of {len(records)} from {first.topic}[{first.partition}]@{first.offset}"
        await _with_retries(where, lambda: engine.handle_batch(records))


_escalation_engine: DetectorEngine | None = None


@app.timer(_detector_settings.escalation_check_seconds)
async def escalate() -> None:
    """Escalate critical-result alerts left unacknowledged past their time."""
    global _escalation_engine
    if _escalation_engine is None:
        _escalation_engine = await asyncio.to_thread(_make_engine)
    await _with_retries("escalating alerts", _escalation_engine.escalate)
