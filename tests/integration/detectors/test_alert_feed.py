"""The server-sent-event feed of /alerts/feed relays the Redis channel."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis

from heals.projections.alerts import api
from heals.streams.detectors.settings import get_detector_settings

pytestmark = pytest.mark.integration


def test_feed_relays_channel_messages(live_services, monkeypatch):
    channel = f"test.alerts.{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("HEALS_DETECTORS_ALERTS_CHANNEL", channel)
    get_detector_settings.cache_clear()
    publisher = redis.Redis.from_url(live_services.redis)

    async def first_two_chunks():
        feed = api._feed_events()
        subscribed = await feed.__anext__()
        publisher.publish(channel, json.dumps({"alert_id": "a-1", "event_type": "CriticalResultRaised"}))
        alert = await asyncio.wait_for(feed.__anext__(), 30)
        await feed.aclose()
        return subscribed, alert

    try:
        subscribed, alert = asyncio.run(first_two_chunks())
    finally:
        get_detector_settings.cache_clear()

    assert subscribed == b": subscribed\n\n"
    assert alert.startswith(b"event: alert\ndata: ")
    assert alert.endswith(b"\n\n")
    assert json.loads(alert[len(b"event: alert\ndata: "):])["alert_id"] == "a-1"
