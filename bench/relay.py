"""Events per second through the relay, from the PostgreSQL event log into Kafka transactions.

Fills a fresh event store schema with admissions, transfers and discharges
(four events per patient) and creates four benchmark topics and a position
topic. Then it relays everything once with the given batch size, prints
the rate, and deletes the schema and the topics.

    .venv/bin/python bench/relay.py --patients 5000 --batch-size 500
"""

from __future__ import annotations

import argparse
import time
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from heals.commands import models
from heals.commands.relay import Relay
from heals.commands.service import CommandService
from heals.commands.verify import WRITE_SIDE_TOPICS
from heals.kafka import client_config
from heals.settings import Settings

OCCURRED_AT = "2026-03-14T09:30:00+01:00"


def fill(service: CommandService, patients: int) -> None:
    source = models.CommandSource(system="BENCH")
    for start in range(0, patients, 250):
        batch: list[models.Command] = []
        for number in range(start, min(start + 250, patients)):
            common = {"occurred_at": OCCURRED_AT, "source": source, "patient_id": f"P{number}"}
            batch += [
                models.AdmitPatient(command_id=f"a{number}", encounter_id=f"E{number}", **common),
                models.TransferPatient(command_id=f"t{number}", to_location=models.Location(ward="W2"), **common),
                models.DischargePatient(command_id=f"d{number}", **common),
            ]
        service.execute_all(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000, help="patients; four events each")
    parser.add_argument("--batch-size", type=int, default=500, help="events per Kafka transaction")
    arguments = parser.parse_args()

    settings = Settings()
    tag = uuid.uuid4().hex[:8]
    admin = AdminClient(client_config(settings))
    topics = {name: f"bench-{tag}.{name}" for name in WRITE_SIDE_TOPICS}
    position_topic = f"bench-{tag}.relay.position"
    for name in topics.values():
        admin.create_topics([NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=1)])[name].result(30)
    service = CommandService(settings, schema=f"bench_relay_{tag}")
    try:
        started = time.perf_counter()
        fill(service, arguments.patients)
        fill_seconds = time.perf_counter() - started
        total = service.store.count_events()

        relay = Relay(settings, service.store, transactional_id=f"bench-relay-{tag}", position_topic=position_topic,
                      batch_size=arguments.batch_size, topic_names=topics)
        relay.start()
        started = time.perf_counter()
        published = relay.drain()
        relay_seconds = time.perf_counter() - started
        relay.close()
    finally:
        service.store.drop()
        for future in admin.delete_topics([*topics.values(), position_topic], operation_timeout=30).values():
            future.result(30)

    print(f"events: {total} stored in {fill_seconds:.1f} s through execute_all "
          f"({total / fill_seconds:.0f} events/s, 750 commands per call)")
    print(f"relay: {published} events in {relay_seconds:.2f} s = {published / relay_seconds:.0f} events/s, "
          f"batch size {arguments.batch_size}, {settings.topic_partitions} partitions per topic")


if __name__ == "__main__":
    main()
