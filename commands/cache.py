"""A bounded cache of aggregates as this process last committed them, with the hash of their last event.

A cached aggregate saves the load and the chain-head look-up of the next
command on it. The cache may be behind the store when another process
wrote the aggregate since, so what a command reads from it is checked at
commit: a written aggregate's next version collides with the primary key
of the stored events, and an aggregate only read is compared with the
event log under the write lock (``WriteBatch.read_versions``). Either
check fails the save with a conflict, which clears the whole cache, so the
caller's retry reads from the store. A rule violation judged on cached
aggregates is judged once more from the store by the service.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass
from typing import Iterable

from heals.commands.aggregate import HealsAggregate

__all__ = ["AggregateCache", "CachedAggregate"]


@dataclass(frozen=True)
class CachedAggregate:
    """A private copy of a cached aggregate and the hash of its event at its version."""

    aggregate: HealsAggregate
    head_hash: str


class AggregateCache:
    """The ``max_size`` most recently used aggregates by aggregate key, safe to share between threads.

    A ``max_size`` of 0 turns the cache off.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[str, CachedAggregate] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedAggregate | None:
        """Return a copy of the cached aggregate, which the caller may change, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
        return CachedAggregate(deepcopy(entry.aggregate), entry.head_hash)

    def put(self, aggregate: HealsAggregate, head_hash: str) -> None:
        """Cache a committed aggregate unless a newer version of it is cached; the caller must not change it later."""
        if self.max_size <= 0:
            return
        key = aggregate.aggregate_key
        with self._lock:
            current = self._entries.get(key)
            # Two threads may commit versions of one aggregate and reach this point in either order.
            if current is not None and current.aggregate.version >= aggregate.version:
                return
            self._entries[key] = CachedAggregate(aggregate, head_hash)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def evict(self, keys: Iterable[str]) -> None:
        """Forget the aggregates of these keys."""
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every aggregate."""
        with self._lock:
            self._entries.clear()
