"""Group commit: concurrent saves of the event store share one PostgreSQL transaction.

Every save takes the same table lock, so concurrent saves queue behind one
another anyway. A single committer thread instead takes every save waiting
in the queue and writes them in one transaction, which pays for one lock,
one commit and one fsync per group. When the group transaction fails on a
unique key (two saves wrote the same aggregate version, or the same command
id), each save of the group is retried alone, so only the save that caused
the conflict sees it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

__all__ = ["GroupCommitter", "SaveRequest"]

logger = logging.getLogger(__name__)


@dataclass
class SaveRequest:
    """One caller's events and rows, and the outcome the committer sets."""

    events: Sequence[Any]
    batch: Any
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommitter:
    """Run ``write(events, batch)`` for queued saves, grouping those that wait at the same time.

    ``merge(batches)`` combines the rows of several saves into one batch.
    The committer thread is a daemon that starts with the first save.
    """

    def __init__(self, write: Callable[[Sequence[Any], Any], None], merge: Callable[[list[Any]], Any],
                 max_group: int = 64) -> None:
        self._write = write
        self._merge = merge
        self._max_group = max_group
        self._queue: list[SaveRequest] = []
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def save(self, events: Sequence[Any], batch: Any) -> None:
        """Store the events and rows; return once committed, or raise what the write raised."""
        request = SaveRequest(events, batch)
        with self._condition:
            if self._closed:
                raise RuntimeError("the event store is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-store-committer", daemon=True)
                self._thread.start()
            self._queue.append(request)
            self._condition.notify()
        request.done.wait()
        if request.error is not None:
            raise request.error

    def close(self) -> None:
        """Commit what is queued, then stop the committer thread."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._closed:
                    self._condition.wait()
                if not self._queue:
                    return
                group = self._queue[: self._max_group]
                del self._queue[: self._max_group]
            self._commit(group)

    def _commit(self, group: list[SaveRequest]) -> None:
        if len(group) > 1:
            try:
                events = [event for request in group for event in request.events]
                self._write(events, self._merge([request.batch for request in group]))
            except Exception:  # a unique key or anything else: retry each save alone below
                logger.debug("group of %d saves failed; saving each alone", len(group))
            else:
                for request in group:
                    request.done.set()
                return

        for request in group:
            try:
                self._write(request.events, request.batch)
            except BaseException as exc:  # handed to the waiting caller, which raises it
                request.error = exc
            request.done.set()
