"""Log when a projection agent has caught up with the end of its topic partitions.

At each assignment the worker reads the end offsets of the assigned
partitions. A projection has caught up once, for each partition that had
records then, its positions table shows the offset before the end offset,
or no record follows the applied offset (transaction markers take offsets too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import psycopg
from psycopg import sql

from heals.projections.journal import POSITIONS_TABLE

__all__ = ["CatchUpTracker"]

logger = logging.getLogger(__name__)

# Offsets between the applied offset and the end that may be transaction markers rather than records;
# only then is the rest of the partition read to tell.
MARKER_GAP = 5


@dataclass
class CatchUpTracker:
    """End offsets each projection still has to reach since the last assignment."""

    database_url: str
    schema: str
    targets: dict[str, dict[tuple[str, int], int]] = field(default_factory=dict)
    records_after: Callable[[dict[tuple[str, int], int], dict[tuple[str, int], int]], dict[tuple[str, int], int]] | None = None

    def assigned(self, projection: str, ends: dict[tuple[str, int], int]) -> None:
        """Set the end offsets a projection has to reach."""
        self.targets[projection] = {tp: end for tp, end in ends.items() if end > 0}

    def check(self) -> list[str]:
        """Return the projections that caught up since the last check, logging each once."""
        if not self.targets:
            return []
        caught_up = []
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            for projection, ends in list(self.targets.items()):
                applied = self._applied(conn, projection) if ends else {}
                behind = {tp: end for tp, end in ends.items() if applied.get(tp, -1) < end - 1}
                nearly = {tp: end for tp, end in behind.items() if end - applied.get(tp, -1) - 1 <= MARKER_GAP}
                if behind and len(nearly) == len(behind) and self.records_after is not None:
                    # A transaction marker can take the last offset: count the records actually left.
                    left = self.records_after({tp: applied.get(tp, -1) for tp in behind}, behind)
                    behind = {tp: end for tp, end in behind.items() if left.get(tp, 0) > 0}
                if behind:
                    continue
                del self.targets[projection]
                caught_up.append(projection)
                logger.info("projection %s caught up: %d partitions at their end offsets %s", projection, len(ends),
                            ", ".join(f"{t}[{p}]@{end}" for (t, p), end in sorted(ends.items())) or "(all empty)")
        return caught_up

    def _applied(self, conn: psycopg.Connection, projection: str) -> dict[tuple[str, int], int]:
        try:
            rows = conn.execute(sql.SQL('SELECT topic, partition, "offset" FROM {} WHERE projection = %s').format(
                sql.Identifier(self.schema, POSITIONS_TABLE)), (projection,)).fetchall()
        except psycopg.errors.UndefinedTable:
            return {}
        return {(topic, partition): offset for topic, partition, offset in rows}
