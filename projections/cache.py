"""Redis cache of the hottest reads (census, latest vitals), invalidated by the projection agents.

Every Redis failure is treated as a cache miss: the API reads from
PostgreSQL and the agents go on writing. A WARNING is logged at most once a
minute while Redis stays unreachable.
"""

from __future__ import annotations

import logging
import time
from typing import Iterable

import redis

__all__ = ["ReadCache", "census_key", "vitals_key"]

logger = logging.getLogger(__name__)

WARNING_INTERVAL_SECONDS = 60.0


def census_key(schema: str) -> str:
    """Return the cache key prefix of census responses."""
    return f"heals:{schema}:census"


def vitals_key(schema: str, patient_id: str) -> str:
    """Return the cache key of a patient's latest vitals."""
    return f"heals:{schema}:vitals:{patient_id}"


class ReadCache:
    """Get, set and invalidate cached JSON responses, with Redis errors counted as misses."""

    def __init__(self, url: str, ttl_seconds: int) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
        self.ttl_seconds = ttl_seconds
        self._warned_at = 0.0
        # Invalidations that failed while Redis was down, retried with the next call.
        self._pending_keys: set[str] = set()
        self._pending_prefixes: set[str] = set()

    def _degraded(self, action: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARNING_INTERVAL_SECONDS:
            self._warned_at = now
            logger.warning("Redis %s failed, reading from PostgreSQL: %s", action, exc)

    def get(self, key: str) -> bytes | None:
        """Return the cached value, or None on a miss or when Redis is down."""
        try:
            return self.client.get(key)
        except redis.RedisError as exc:
            self._degraded("get", exc)
            return None

    def set(self, key: str, value: bytes) -> None:
        """Store a value for the configured lifetime; do nothing when Redis is down."""
        try:
            self.client.set(key, value, ex=self.ttl_seconds)
        except redis.RedisError as exc:
            self._degraded("set", exc)

    def invalidate(self, keys: Iterable[str], prefixes: Iterable[str] = ()) -> None:
        """Delete keys, and every key under each prefix; keep them for the next call when Redis is down."""
        self._pending_keys.update(keys)
        self._pending_prefixes.update(prefixes)
        try:
            doomed: list[str | bytes] = list(self._pending_keys)
            for prefix in self._pending_prefixes:
                doomed.extend(self.client.scan_iter(match=f"{prefix}*", count=500))
            if doomed:
                self.client.delete(*doomed)
        except redis.RedisError as exc:
            self._degraded("invalidate", exc)
            return
        self._pending_keys.clear()
        self._pending_prefixes.clear()
