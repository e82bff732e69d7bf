"""HTTP API of the alerts: list, acknowledge, and a live feed as server-sent events.

| method and path | does |
| --- | --- |
| GET /alerts?status=&patient=&limit= | alerts newest first; status is open, acknowledged, escalated, resolved or superseded |
| GET /alerts/{alert_id} | one alert |
| POST /alerts/{alert_id}/acknowledge | publish AlertAcknowledged (who, when, note); 202 with its event id |
| GET /alerts/feed | server-sent events, one per alert event, from the Redis channel |

Acknowledging publishes an event and does not write the row: the
projection applies the event like any other, so the row and the log agree.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from functools import lru_cache
from typing import Any, AsyncIterator, Literal

import redis.asyncio as aioredis
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from heals.envelope import new_envelope, seal, utc_now
from heals.kafka import make_producer
from heals.projections.alerts.store import AlertsStore
from heals.registry import make_codec
from heals.settings import get_settings
from heals.streams.detectors.settings import get_detector_settings

__all__ = ["router", "AcknowledgeAlert"]

router = APIRouter(prefix="/alerts", tags=["alerts"])

Status = Literal["open", "acknowledged", "escalated", "resolved", "superseded"]
FEED_KEEPALIVE_SECONDS = 15.0


class AcknowledgeAlert(BaseModel):
    """Command: a clinician acknowledges an alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acknowledged_by: str = Field(min_length=1, description="User who acknowledges.")
    acknowledged_at: dt.datetime | None = Field(None, description="When, with a UTC offset; unset means now.")
    note: str | None = Field(None, description="Free-text note.")


@lru_cache(maxsize=1)
def _store() -> AlertsStore:
    store = AlertsStore(get_settings().postgres_url, get_detector_settings().alerts_db_schema)
    store.create()
    return store


@lru_cache(maxsize=1)
def _producer() -> Any:
    return make_producer(get_settings())


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, dt.datetime) else value for key, value in row.items()}


@router.get("")
def list_alerts(status: Status | None = None, patient: str | None = None,
                limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """List alerts newest first."""
    return [_json_row(row) for row in _store().list(status=status, patient_id=patient, limit=limit)]


@router.get("/feed")
async def alert_feed() -> StreamingResponse:
    """Stream alert events as server-sent events."""
    return StreamingResponse(_feed_events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _feed_events() -> AsyncIterator[bytes]:
    client = aioredis.Redis.from_url(get_settings().redis)
    pubsub = client.pubsub()
    await pubsub.subscribe(get_detector_settings().alerts_channel)
    try:
        yield b": subscribed\n\n"
        last_sent = time.monotonic()
        while True:
            # get_message() also returns None for the subscribe confirmation
            # it ignores, so the keep-alive goes by the clock.
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=FEED_KEEPALIVE_SECONDS)
            if message is not None:
                yield b"event: alert\ndata: " + message["data"] + b"\n\n"
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= FEED_KEEPALIVE_SECONDS:
                yield b": keep-alive\n\n"
                last_sent = time.monotonic()
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()
        await client.aclose()


@router.get("/{alert_id}")
def get_alert(alert_id: str) -> dict[str, Any]:
    """Return one alert."""
    row = _store().get(alert_id)
    if row is None:
        raise HTTPException(404, f"alert {alert_id!r} not found")
    return _json_row(row)


@router.post("/{alert_id}/acknowledge", status_code=202)
def acknowledge(alert_id: str, command: AcknowledgeAlert) -> dict[str, Any]:
    """Publish AlertAcknowledged for an alert that is not resolved or superseded."""
    row = _store().get(alert_id)
    if row is None:
        raise HTTPException(404, f"alert {alert_id!r} not found")
    if row["status"] in ("resolved", "superseded"):
        raise HTTPException(409, f"alert {alert_id!r} is {row['status']}; only open or escalated alerts are acknowledged")
    if row["acknowledged_by"]:
        raise HTTPException(409, f"alert {alert_id!r} was already acknowledged at {row['acknowledged_at'].isoformat()}")

    # NOTE: the version and prev_hash come from the projection row. If the
    # detector escalates the alert at the same moment, both events claim the
    # same aggregate version and the alert's hash chain forks. Routing the
    # acknowledgement through the detector's transaction would prevent that.
    acknowledged_at = command.acknowledged_at or utc_now()
    if acknowledged_at.tzinfo is None:
        raise HTTPException(422, "acknowledged_at must carry a UTC offset, for example 2026-03-14T09:30:00+00:00")
    settings = get_settings()
    topic = get_detector_settings().alerts_topic
    event_id = str(uuid.uuid4())
    envelope = new_envelope(
        event_type="AlertAcknowledged", tenant_id=settings.tenant_id, patient_id=row["patient_id"],
        aggregate_id=alert_id, aggregate_version=row["version"] + 1, occurred_at=acknowledged_at,
        source_system="heals.api.alerts", correlation_id=event_id, actor=command.acknowledged_by, event_id=event_id,
    )
    event = seal({"envelope": envelope, "alert_id": alert_id, "acknowledged_by": command.acknowledged_by,
                  "acknowledged_at": acknowledged_at.astimezone(dt.timezone.utc), "note": command.note},
                 row["last_hash"])
    producer = _producer()
    key = row["patient_id"].encode() if row["patient_id"] else None
    producer.produce(topic, key=key, value=make_codec(settings).encode("AlertAcknowledged", event, topic))
    if producer.flush(10):
        raise HTTPException(503, "Kafka did not acknowledge the event within 10 s; retry the request")
    return {"event_id": event_id, "alert_id": alert_id, "acknowledged_at": acknowledged_at.isoformat()}
