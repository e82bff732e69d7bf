"""Fixtures of the HL7 integration tests: a real listener on the real write side, Kafka and PostgreSQL.

Each test gets its own event store schema and ACK table. Kafka topics (raw
archive, readings, dead letters and the relay's topics) are shared by the
tests of one module, which find their own records by event ids and control ids.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from heals.catalogue import load_catalogue
from heals.codec import Codec
from heals.commands.relay import Relay
from heals.commands.service import CommandService
from heals.commands.verify import WRITE_SIDE_TOPICS, read_to_end
from heals.connectors.hl7.app import ListenerParts, build_listener
from heals.connectors.hl7.client import AckSummary, MllpClient, read_ack
from heals.connectors.hl7.settings import ListenerSettings
from heals.settings import Settings
from tests.conftest import CASES_DIR

HL7_CASES = CASES_DIR / "hl7v2"


@dataclass
class Hl7Topics:
    """Topic names of one test module."""

    raw: str
    readings: str
    dead_letter_name: str
    relay: dict[str, str]
    position: str

    @property
    def dead_letters(self) -> str:
        return f"dlq.{self.dead_letter_name}"


@dataclass
class RunningListener:
    """A listener serving on a free loopback port, with its write side and topics."""

    settings: Settings
    parts: ListenerParts
    service: CommandService
    topics: Hl7Topics
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    codec: Codec = field(default_factory=lambda: Codec(load_catalogue()))

    @property
    def port(self) -> int:
        return self.parts.listener.port

    def send(self, *messages: bytes) -> list[AckSummary]:
        """Send messages over one connection and read each ACK."""
        with MllpClient("127.0.0.1", self.port) as client:
            return [read_ack(client.send(message)) for message in messages]

    def stored_events(self) -> list:
        """Every row of this test's event log, in order."""
        return self.service.store.read_log(0, 100000)

    def publish(self) -> int:
        """Run the relay over this test's event store until it is drained."""
        relay = Relay(
            self.settings, self.service.store, transactional_id=f"test-hl7-{uuid.uuid4().hex[:8]}",
            position_topic=self.topics.position, topic_names=self.topics.relay,
        )
        try:
            return relay.drain()
        finally:
            relay.close()

    def archived(self, message: bytes, attempts: int = 20) -> list[dict]:
        """Archive records of one message; the listener archives just after the ACK, so this reads again until found."""
        for _ in range(attempts):
            found = [value for value in self.decoded(self.topics.raw) if value["message"] == message]
            if found:
                return found
            time.sleep(0.5)
        return []

    def decoded(self, topic: str) -> list[dict]:
        """Every record value of a topic, decoded."""
        return [self.codec.decode(m.value(), topic=topic).value for m in read_to_end(self.settings, [topic], timeout=60)]


def case(name: str) -> bytes:
    """The bytes of one case file."""
    return (HL7_CASES / name).read_bytes()


def case_names() -> list[str]:
    return sorted(path.name for path in Path(HL7_CASES).glob("*.hl7"))


@pytest.fixture(scope="module")
def hl7_topics(live_services: Settings) -> Hl7Topics:
    from confluent_kafka.admin import AdminClient, NewTopic

    from heals.kafka import client_config

    suffix = uuid.uuid4().hex[:10]
    topics = Hl7Topics(
        raw=f"test.hl7.raw.{suffix}",
        readings=f"test.hl7.readings.{suffix}",
        dead_letter_name=f"test.hl7.{suffix}",
        relay={name: f"test.hl7.{name}.{suffix}" for name in WRITE_SIDE_TOPICS},
        position=f"test.hl7.position.{suffix}",
    )
    names = [topics.raw, topics.readings, topics.dead_letters, *topics.relay.values()]
    admin = AdminClient(client_config(live_services))
    for name, future in admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1) for name in names]).items():
        future.result(30)
    yield topics
    for future in admin.delete_topics([*names, topics.position], operation_timeout=30).values():
        try:
            future.result(30)
        except Exception:  # the position topic exists only when a relay ran
            pass


def start_listener(settings: Settings, topics: Hl7Topics, executor=None, **overrides) -> RunningListener:
    """Start a listener on a fresh event store schema and ACK table; executor replaces the write side."""
    schema = f"test_hl7_{uuid.uuid4().hex[:12]}"
    service = CommandService(settings, schema=schema)
    listener_settings = ListenerSettings(
        raw_topic=topics.raw, readings_topic=topics.readings, dead_letter_name=topics.dead_letter_name,
        ack_table=f"{schema}_acks", **overrides,
    )
    parts = build_listener(settings, listener_settings, executor or service, host="127.0.0.1", port=0)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(parts.listener.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    return RunningListener(settings, parts, service, topics, loop, thread)


def stop_listener(running: RunningListener) -> None:
    asyncio.run_coroutine_threadsafe(running.parts.listener.stop(), running.loop).result(60)
    running.loop.call_soon_threadsafe(running.loop.stop)
    running.thread.join(60)
    running.loop.close()
    running.parts.store.drop()
    running.parts.close()
    running.service.store.drop()


@pytest.fixture
def hl7_listener(live_services: Settings, hl7_topics: Hl7Topics):
    running = start_listener(live_services, hl7_topics)
    yield running
    stop_listener(running)
