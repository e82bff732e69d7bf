"""One Faust agent per projection: batches of records in, one PostgreSQL transaction per batch.

Each agent reads its projection's topics, hands a batch to a
ProjectionRunner in a worker thread and acks the records only after the
runner returned, that is after the commit. Faust's take_events() (faust-streaming
0.15) acks a batch in a finally clause, even when the loop body raised, so
the runner retries failed PostgreSQL writes until they succeed instead of
raising.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from heals.dead_letters import DeadLetterWriter
from heals.kafka import make_producer
from heals.projections.cache import ReadCache
from heals.projections.model import Projection
from heals.projections.registry import PROJECTIONS
from heals.projections.settings import get_projection_settings
from heals.registry import make_codec
from heals.settings import get_settings
from heals.streams.app import app
from heals.projections.status import end_offsets, records_after
from heals.streams.progress import CatchUpTracker
from heals.streams.projection_runner import ProjectionRunner, RawRecord

__all__ = ["PROJECTION_AGENTS", "tracker"]

logger = logging.getLogger(__name__)

CATCH_UP_CHECK_SECONDS = 1.0

_settings = get_settings()
_projection_settings = get_projection_settings()
_codec = make_codec(_settings)

tracker = CatchUpTracker(
    _settings.postgres_url, _projection_settings.db_schema,
    records_after=lambda applied, ends: records_after(_settings, applied, ends),
)


def _topics(projection: Projection) -> list[str]:
    return [_projection_settings.topic(role) for role in projection.topic_roles]


def _dead_letter_owner(topic: str) -> str:
    # The first projection (in registry order) that reads a topic parks its undecodable records.
    return next(p.name for p in PROJECTIONS.values() if topic in _topics(p))


def _make_runner(projection: Projection) -> ProjectionRunner:
    return ProjectionRunner(
        projection,
        _settings.postgres_url,
        _projection_settings.db_schema,
        _codec,
        DeadLetterWriter(make_producer(_settings), _codec, f"projection-{projection.name}"),
        ReadCache(_settings.redis, _projection_settings.cache_ttl_seconds),
        parks_dead_letters=lambda topic: _dead_letter_owner(topic) == projection.name,
    )


def _define_agent(projection: Projection) -> Any:
    channel = app.topic(*_topics(projection), key_type=bytes, value_type=bytes,
                        key_serializer="raw", value_serializer="raw")

    async def project(stream: Any) -> AsyncIterator[None]:
        runner = _make_runner(projection)
        await asyncio.to_thread(runner.start)
        logger.info("projection %s started on %s, schema %s", projection.name, ", ".join(_topics(projection)),
                    _projection_settings.db_schema)
        async for events in stream.take_events(_projection_settings.batch_size, within=_projection_settings.batch_seconds):
            records = [RawRecord(e.message.topic, e.message.partition, e.message.offset, e.message.key, e.value)
                       for e in events]
            await asyncio.to_thread(runner.process, records)
            logger.debug("projection %s applied %d records", projection.name, len(records))
            yield None

    project.__name__ = f"project_{projection.name}"
    return app.agent(channel, name=f"heals.projection.{projection.name}", concurrency=1)(project)


PROJECTION_AGENTS = {name: _define_agent(projection) for name, projection in PROJECTIONS.items()}


@app.on_partitions_assigned.connect
async def _log_assignment(sender: Any, assigned: set, **kwargs: Any) -> None:
    partitions = sorted((tp.topic, tp.partition) for tp in assigned)
    logger.info("partitions assigned: %s", ", ".join(f"{t}[{p}]" for t, p in partitions) or "none")
    ends = await asyncio.to_thread(end_offsets, _settings, partitions)
    for name, projection in PROJECTIONS.items():
        tracker.assigned(name, {tp: end for tp, end in ends.items() if tp[0] in _topics(projection)})


@app.timer(CATCH_UP_CHECK_SECONDS)
async def _log_catch_up() -> None:
    await asyncio.to_thread(tracker.check)
