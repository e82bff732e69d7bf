"""A projection stack for tests: its own topics, PostgreSQL schema and Faust worker subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import psycopg
from psycopg import sql

from heals.codec import Codec
from heals.kafka import make_producer
from heals.projections.journal import POSITIONS_TABLE
from heals.projections.registry import PROJECTIONS
from heals.settings import REPO_ROOT, Settings
from heals.projections.status import end_offsets
from heals.topics import topic_for_event

ROLES = ("adt", "orders", "results", "readings", "charges")
ROLE_OF_TOPIC = {"clinical.adt.v1": "adt", "clinical.orders.v1": "orders", "clinical.results.v1": "results",
                 "devices.readings.v1": "readings", "billing.charges.v1": "charges"}
# Upper bound of every wait for the worker; waits end as soon as their condition holds.
WAIT_SECONDS = 120


def role_of(event_type: str) -> str:
    """Return the topic role that carries an event type."""
    return ROLE_OF_TOPIC[topic_for_event(event_type).name]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS, interval: float = 0.2) -> Any:
    """Poll until condition() returns a true value and return it; fail naming what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


@dataclass
class ProjectionStack:
    """Topics, schema and worker of one test."""

    settings: Settings
    codec: Codec
    topics: dict[str, str]
    schema: str
    app_id: str
    log_path: Path
    process: subprocess.Popen | None = None
    produced: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """Environment that points the worker, CLI and API at this stack."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("HEALS_PROJECTIONS_")}
        env.update({f"HEALS_PROJECTIONS_{role.upper()}_TOPIC": name for role, name in self.topics.items()})
        env.update(HEALS_PROJECTIONS_DB_SCHEMA=self.schema, HEALS_STREAMS_APP_ID=self.app_id,
                   HEALS_STREAMS_AGENT_MODULES='["heals.streams.projection_agents"]',
                   HEALS_PROJECTIONS_BATCH_SECONDS="0.05")
        env.update(self.extra_env)
        return env

    def start_worker(self) -> None:
        """Start `heals worker` and wait until it logged its partition assignment."""
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "heals", "worker"], cwd=REPO_ROOT, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        def assigned() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}; log: {self.log_path}")
            return b"partitions assigned:" in self.log_path.read_bytes()[start:]

        wait_for(assigned, "worker partition assignment")

    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal to the worker and wait until it exited."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(60)
        self.process = None

    def produce(self, events: Iterable[tuple[str, dict]], *, encoded: bool = False) -> None:
        """Produce (event_type, value) pairs to their topics, keyed as the topic catalogue specifies."""
        producer = make_producer(self.settings)
        for event_type, value in events:
            role = role_of(event_type)
            key = (value.get("account_id") if role == "charges" else value["envelope"]["patient_id"]) or "unbound"
            topic = self.topics[role]
            producer.produce(topic, key=key.encode(), value=self.codec.encode(event_type, value, topic))
        assert producer.flush(30) == 0

    def produce_raw(self, role: str, key: bytes, value: bytes) -> None:
        """Produce bytes as they are, for records that cannot be decoded."""
        producer = make_producer(self.settings)
        producer.produce(self.topics[role], key=key, value=value)
        assert producer.flush(30) == 0

    def wait_caught_up(self, timeout: float = WAIT_SECONDS) -> None:
        """Wait until every projection has applied every record now on its topics."""
        partitions = [(topic, p) for topic in self.topics.values() for p in range(3)]
        ends = {tp: end for tp, end in end_offsets(self.settings, partitions).items() if end > 0}

        def caught_up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}; log: {self.log_path}")
            with psycopg.connect(self.settings.postgres_url, autocommit=True) as conn:
                try:
                    rows = conn.execute(sql.SQL('SELECT projection, topic, partition, "offset" FROM {}').format(
                        sql.Identifier(self.schema, POSITIONS_TABLE))).fetchall()
                except psycopg.errors.UndefinedTable:
                    return False
            applied = {(p, t, part): off for p, t, part, off in rows}
            for name, projection in PROJECTIONS.items():
                for role in projection.topic_roles:
                    for (topic, part), end in ends.items():
                        if topic == self.topics[role] and applied.get((name, topic, part), -1) < end - 1:
                            return False
            return True

        wait_for(caught_up, "projections catching up with the topics", timeout=timeout)

    def rows(self, table: str, order_by: str, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Return every row of a read-model table, ordered, without the excluded columns."""
        with psycopg.connect(self.settings.postgres_url, autocommit=True) as conn:
            cur = conn.execute(sql.SQL("SELECT * FROM {} ORDER BY {}").format(
                sql.Identifier(self.schema, table), sql.SQL(order_by)))
            names = [d.name for d in cur.description]
            return [{n: v for n, v in zip(names, row) if n not in exclude} for row in cur.fetchall()]


def new_stack(settings: Settings, codec: Codec, topic_factory: Callable[..., str], tmp_path: Path) -> ProjectionStack:
    """Create topics (with their dead-letter topics) and name a schema and consumer group for one test."""
    suffix = uuid.uuid4().hex[:10]
    topics = {}
    for role in ROLES:
        topics[role] = topic_factory(f"test.{role}", partitions=3)
        topic_factory(exact_name=f"dlq.{topics[role]}", partitions=1)
    return ProjectionStack(settings, codec, topics, f"test_proj_{suffix}", f"test-projections-{suffix}",
                           tmp_path / "worker.log")


def drop_schema(settings: Settings, schema: str) -> None:
    """Drop a test schema and everything in it."""
    with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
