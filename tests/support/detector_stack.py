"""A detector stack for tests: its own topics, PostgreSQL schemas, Redis channel and Faust worker subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import psycopg
from psycopg import sql

from heals.codec import Codec
from heals.kafka import make_producer
from heals.settings import REPO_ROOT, Settings
from tests.support.alert_reader import read_events
from tests.support.projection_stack import wait_for

ROLES = ("readings", "results", "adt", "charges", "alerts")
TOPIC_OF_EVENT = {"DeviceReadingRecorded": "readings", "ResultRecorded": "results", "Spo2ScaleAssigned": "adt",
                  "ChargePosted": "charges", "AlertAcknowledged": "alerts"}
AGENT_MODULES = '["heals.streams.detectors.agents", "heals.projections.alerts.agent"]'


@dataclass
class DetectorStack:
    """Topics, schemas and worker of one test."""

    settings: Settings
    codec: Codec
    topics: dict[str, str]
    suffix: str
    log_path: Path
    extra_env: dict[str, str]
    process: subprocess.Popen | None = None

    @property
    def detector_schema(self) -> str:
        return f"test_det_{self.suffix}"

    @property
    def alerts_schema(self) -> str:
        return f"test_alerts_{self.suffix}"

    @property
    def channel(self) -> str:
        return f"test.alerts.{self.suffix}"

    @property
    def env(self) -> dict[str, str]:
        """Environment that points the worker and the API at this stack."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("HEALS_DETECTORS_")}
        env.update({f"HEALS_DETECTORS_{role.upper()}_TOPIC": name for role, name in self.topics.items()})
        env.update(
            HEALS_DETECTORS_DB_SCHEMA=self.detector_schema, HEALS_DETECTORS_ALERTS_DB_SCHEMA=self.alerts_schema,
            HEALS_DETECTORS_ALERTS_CHANNEL=self.channel, HEALS_STREAMS_APP_ID=f"test-detectors-{self.suffix}",
            HEALS_STREAMS_AGENT_MODULES=AGENT_MODULES,
            HEALS_STREAMS_DATA_DIR=str(self.log_path.parent / "faust"),
        )
        env.update(self.extra_env)
        return env

    def start_worker(self) -> None:
        """Start `heals worker` and wait until it logged its partition assignment."""
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "heals", "worker"], cwd=REPO_ROOT, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        def started() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}; log: {self.log_path}")
            output = self.log_path.read_bytes()[start:]
            return b"detectors started" in output and b"alerts projection started" in output

        wait_for(started, "detector worker start")

    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal to the worker and wait until it exited."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(60)
        self.process = None

    def produce(self, events: list[dict[str, Any]]) -> None:
        """Produce events to their topics, keyed by patient id."""
        producer = make_producer(self.settings)
        for event in events:
            event_type = event["envelope"]["event_type"]
            topic = self.topics[TOPIC_OF_EVENT[event_type]]
            producer.produce(topic, key=event["envelope"]["patient_id"].encode(),
                             value=self.codec.encode(event_type, event, topic))
        assert producer.flush(30) == 0

    def alerts(self, until: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """Return the events on the alerts topic once ``until`` holds; fail when it never does."""
        events = read_events(self.settings, self.codec, self.topics["alerts"], until, timeout=120)
        assert until(events), f"alerts topic never satisfied the condition; {len(events)} events; log: {self.log_path}"
        return events

    def query(self, schema: str, query: str, params: tuple = ()) -> list[tuple]:
        """Run a query with {schema} replaced by one of the stack's schemas."""
        with psycopg.connect(self.settings.postgres_url, autocommit=True) as conn:
            try:
                return conn.execute(sql.SQL(query).format(schema=sql.Identifier(schema)), params).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def drop(self) -> None:
        """Drop the stack's schemas."""
        with psycopg.connect(self.settings.postgres_url, autocommit=True) as conn:
            for schema in (self.detector_schema, self.alerts_schema):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def new_detector_stack(settings: Settings, codec: Codec, topic_factory: Callable[..., str], tmp_path: Path,
                       **extra_env: str) -> DetectorStack:
    """Create the topics, with dead-letter topics, of one detector test."""
    topics = {}
    for role in ROLES:
        topics[role] = topic_factory(f"test.det.{role}", partitions=3)
        topic_factory(exact_name=f"dlq.{topics[role]}", partitions=1)
    return DetectorStack(settings, codec, topics, uuid.uuid4().hex[:10], tmp_path / "worker.log", extra_env)
