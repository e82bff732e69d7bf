"""The relay: publishes the event log to Kafka exactly once, in log order.

Each batch is one Kafka transaction that holds the batch's events and a
position record (the last event log position of the batch) on a compacted
position topic. On start the relay calls ``init_transactions``, which
aborts whatever transaction a crashed predecessor with the same
``transactional.id`` left open and fences that predecessor out, and then
reads its position back with ``isolation.level=read_committed``. So:

| crash | what read_committed consumers see after the restart |
| --- | --- |
| before ``commit_transaction`` | nothing of the batch; the restart reads the older position and publishes the batch again |
| after ``commit_transaction`` | the batch once; its position record committed with it, so the restart continues after it |

Consumers must read with ``isolation.level=read_committed`` (heals.kafka's
consumer configuration does); a read_uncommitted consumer also sees records
of aborted transactions. Events are keyed by patient id, charges by account
id, and each record carries the W3C ``traceparent`` of the command that
stored it, or of the relay's span for its batch when the command had none.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Callable, Mapping

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from heals.commands.settings import WriteSettings
from heals.commands.store import EventStore, LoggedEvent
from heals.errors import InfraError
from heals.kafka import client_config, make_consumer, producer_config, trace_headers
from heals.settings import Settings

__all__ = ["Relay", "read_relay_position"]

logger = logging.getLogger(__name__)

KAFKA_TIMEOUT_SECONDS = 60.0


class Relay:
    """Publish the event log of one event store to Kafka in transactions that carry the relay's position.

    | argument | meaning |
    | --- | --- |
    | settings | Kafka connection settings |
    | store | the event store whose event log is published |
    | transactional_id | Kafka transactional.id; one relay per id runs at a time |
    | position_topic | compacted topic of position records, keyed by transactional_id |
    | batch_size | events per Kafka transaction |
    | topic_names | catalogue topic name -> topic to publish to; tests publish to their own topics |
    """

    def __init__(
        self,
        settings: Settings,
        store: EventStore,
        *,
        write_settings: WriteSettings | None = None,
        transactional_id: str | None = None,
        position_topic: str | None = None,
        batch_size: int | None = None,
        topic_names: Mapping[str, str] | None = None,
    ) -> None:
        write_settings = write_settings or WriteSettings()
        self.settings = settings
        self.store = store
        self.transactional_id = transactional_id or write_settings.relay_transactional_id
        self.position_topic = position_topic or write_settings.relay_position_topic
        self.batch_size = batch_size or write_settings.relay_batch_size
        self.poll_interval = write_settings.relay_poll_interval
        self.topic_names = dict(topic_names or {})
        self.store_name = f"{store.schema}.{store.name}"
        self.position = 0
        self._producer: Producer | None = None
        self._tracer = TracerProvider().get_tracer("heals.commands.relay")

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Fence older relays with the same transactional id and read the committed position."""
        _ensure_position_topic(self.settings, self.position_topic)
        self._producer = Producer(producer_config(
            self.settings,
            **{"transactional.id": self.transactional_id, "linger.ms": 20, "batch.num.messages": 10000},
        ))
        self._producer.init_transactions(KAFKA_TIMEOUT_SECONDS)
        self.position = read_relay_position(self.settings, self.position_topic, self.transactional_id, self.store_name)
        logger.info("relay %s started at event log position %d", self.transactional_id, self.position)

    def close(self) -> None:
        """Flush and drop the producer; an open transaction is aborted by the next start."""
        if self._producer is not None:
            self._producer.flush(KAFKA_TIMEOUT_SECONDS)
            self._producer = None

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Publish batches until should_stop() returns true; return the number of events published."""
        if self._producer is None:
            self.start()
        published = 0
        while not should_stop():
            count = self.publish_batch()
            published += count
            if count == 0:
                time.sleep(self.poll_interval)
        return published

    def drain(self) -> int:
        """Publish until the event log has no event after the position; return the number published."""
        if self._producer is None:
            self.start()
        published = 0
        while True:
            count = self.publish_batch()
            if count == 0:
                return published
            published += count

    # -- one batch ----------------------------------------------------------

    def publish_batch(self) -> int:
        """Publish the next batch in one Kafka transaction; return its size, 0 when caught up."""
        events = self.store.read_log(self.position, self.batch_size)
        if not events:
            return 0
        producer = self._producer
        assert producer is not None, "call start() first"

        # Events and the position record go into one transaction, so they become visible together.
        producer.begin_transaction()
        try:
            # One producer span per batch carries events whose command had no trace context.
            with self._tracer.start_as_current_span("relay batch", kind=SpanKind.PRODUCER):
                batch_headers = trace_headers()
            for event in events:
                self._produce(producer, event, batch_headers)
            last = events[-1]
            producer.produce(
                self.position_topic, key=self.transactional_id.encode("utf-8"),
                value=json.dumps({"position": last.position, "event_id": last.event_id, "store": self.store_name}).encode(),
            )
            self._commit(producer)
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if not error.txn_requires_abort():
                raise
            # The position stays where it was, so the next call publishes the batch again.
            logger.warning("relay transaction aborted, retrying the batch: %s", error)
            producer.abort_transaction(KAFKA_TIMEOUT_SECONDS)
            return 0
        self.position = last.position
        logger.debug("relay published %d events up to position %d", len(events), last.position)
        return len(events)

    def _produce(self, producer: Producer, event: LoggedEvent, batch_headers: list[tuple[str, bytes]]) -> None:
        topic = self.topic_names.get(event.topic, event.topic)
        if event.traceparent:
            headers = [("traceparent", event.traceparent.encode("ascii"))]
        else:
            headers = list(batch_headers)
        headers.append(("heals-event-id", event.event_id.encode("ascii")))
        while True:
            try:
                producer.produce(topic, key=event.key.encode("utf-8"), value=event.value, headers=headers)
                return
            except BufferError:
                # The local queue is full: let librdkafka send some records, then try again.
                producer.poll(0.1)

    @staticmethod
    def _commit(producer: Producer) -> None:
        while True:
            try:
                producer.commit_transaction(KAFKA_TIMEOUT_SECONDS)
                return
            except KafkaException as exc:
                if not exc.args[0].retriable():
                    raise
                logger.warning("relay commit failed with a retriable error, retrying: %s", exc.args[0])


def _ensure_position_topic(settings: Settings, topic: str) -> None:
    admin = AdminClient(client_config(settings))
    if topic in admin.list_topics(timeout=15).topics:
        return
    new_topic = NewTopic(topic, num_partitions=1, replication_factor=settings.topic_replication_factor,
                         config={"cleanup.policy": "compact"})
    try:
        admin.create_topics([new_topic])[topic].result(30)
        logger.info("created relay position topic %s", topic)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def read_relay_position(settings: Settings, topic: str, transactional_id: str, store_name: str | None = None) -> int:
    """Return the last committed event log position of a relay, 0 when it has none.

    Reads the whole position topic with read_committed up to its end, so a
    position written by an aborted transaction is never returned.
    """
    consumer = make_consumer(settings, f"heals-relay-position-{transactional_id}",
                             **{"enable.partition.eof": True, "isolation.level": "read_committed"})
    try:
        metadata = consumer.list_topics(topic, timeout=15).topics[topic]
        partitions = [TopicPartition(topic, p, 0) for p in metadata.partitions]
        consumer.assign(partitions)
        at_end: set[int] = set()
        position = 0
        key = transactional_id.encode("utf-8")
        deadline = time.monotonic() + KAFKA_TIMEOUT_SECONDS
        while len(at_end) < len(partitions):
            if time.monotonic() > deadline:
                raise InfraError(f"could not read relay position topic {topic} to its end within {KAFKA_TIMEOUT_SECONDS} s")
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                    continue
                raise KafkaException(message.error())
            if message.key() != key or message.value() is None:
                continue
            record = json.loads(message.value())
            if store_name is not None and record.get("store") not in (None, store_name):
                raise InfraError(
                    f"relay {transactional_id} published store {record['store']}, not {store_name}; "
                    "give each event store its own HEALS_RELAY_TRANSACTIONAL_ID"
                )
            position = int(record["position"])
        return position
    finally:
        consumer.close()
