"""The live alert feed: alert events as JSON on a Redis pub/sub channel."""

from __future__ import annotations

import json
from typing import Any

import redis

from heals.projections.alerts.store import summarise

__all__ = ["AlertFeed", "feed_message"]


def feed_message(event: dict[str, Any]) -> str:
    """Return the JSON a feed subscriber receives for one alert event."""
    envelope = event["envelope"]
    return json.dumps({
        "event_id": envelope["event_id"],
        "event_type": envelope["event_type"],
        "patient_id": envelope["patient_id"],
        "occurred_at": envelope["occurred_at"].isoformat(),
        **summarise(event),
    })


class AlertFeed:
    """Publish alert events to subscribers of one Redis channel."""

    def __init__(self, url: str, channel: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.channel = channel

    def publish(self, event: dict[str, Any]) -> int:
        """Publish one event; return the number of subscribers that received it."""
        return int(self.client.publish(self.channel, feed_message(event)))
