"""Events per second of projection rebuilds, of the live worker, and of raw consume-and-decode.

Creates five benchmark topics (ADT, orders, results, readings, charges)
and fills them with a synthetic hospital: each patient is registered,
admitted and moved, has orders with results and charges, and device
readings make up the rest. Then it measures, on the same topics:

- raw: one confluent-kafka consumer reading every record from offset 0 and
  decoding it with heals.codec, nothing else;
- rebuild: `heals projections rebuild` of each projection (read, journal,
  fold, switch), into a fresh PostgreSQL schema;
- live (unless --skip-live): a `heals worker` subprocess applying the same
  records from offset 0 until every projection has caught up.

The schema and topics are deleted at the end.

    .venv/bin/python bench/projections.py --events 200000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heals.codec import Codec  # noqa: E402
from heals.catalogue import load_catalogue  # noqa: E402
from heals.kafka import client_config, make_consumer  # noqa: E402
from heals.projections.rebuild import rebuild_projection  # noqa: E402
from heals.projections.registry import PROJECTIONS  # noqa: E402
from heals.projections.settings import ProjectionSettings  # noqa: E402
from heals.settings import REPO_ROOT, Settings  # noqa: E402
from tests.support.clinical_events import BASE_TIME, EventFactory  # noqa: E402
from tests.support.projection_stack import ProjectionStack  # noqa: E402

PARTITIONS = 3
ROLES = ("adt", "orders", "results", "readings", "charges")


def hospital(events: int, patients: int):
    """Yield (event_type, value) pairs: per patient 12 clinical events, readings for the rest."""
    factory = EventFactory()
    minute = dt.timedelta(minutes=1)
    clinical = 0
    for number in range(patients):
        p, at = f"P{number}", BASE_TIME + number * minute
        yield factory.register(p, at)
        yield factory.admit(p, f"E{number}", at + minute, f"W{number % 20}", str(number % 40), "A")
        yield factory.transfer(p, f"E{number}", at + 2 * minute, f"W{(number + 1) % 20}", str(number % 40), "B")
        for k in range(2):
            order = f"O{number}-{k}"
            yield factory.place_order(p, order, at + 3 * minute, department=("LAB", "RAD")[k])
            yield factory.change_order(p, order, at + 4 * minute, "completed")
            yield factory.record_result(p, order, "R1", at + 5 * minute, 90 + k, flags=("N",))
        yield factory.post_charge(p, f"A{number}", f"C{number}-1", at + 6 * minute, "12.50")
        yield factory.post_charge(p, f"A{number}", f"C{number}-2", at + 6 * minute, "7.50")
        yield factory.reverse_charge(p, f"A{number}", f"C{number}-3", f"C{number}-1", at + 7 * minute)
        clinical += 12
    for number in range(max(events - clinical, 0)):
        p = f"P{number % patients}"
        yield factory.reading(p, BASE_TIME + dt.timedelta(seconds=number), ("HR", "RR", "SPO2", "TEMP")[number % 4],
                              60 + number % 40)


def produce(stack: ProjectionStack, events: int, patients: int) -> int:
    from heals.kafka import make_producer
    from tests.support.projection_stack import role_of

    producer = make_producer(stack.settings, **{"linger.ms": 50, "batch.num.messages": 10000})
    count = 0
    for event_type, value in hospital(events, patients):
        role = role_of(event_type)
        key = value.get("account_id") if role == "charges" else value["envelope"]["patient_id"]
        topic = stack.topics[role]
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=stack.codec.encode(event_type, value, topic))
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
    producer.flush(120)
    return count


def raw_consume(settings: Settings, codec: Codec, topics: list[str], total: int) -> float:
    consumer = make_consumer(settings, f"bench-raw-{uuid.uuid4().hex[:8]}", **{"fetch.max.bytes": 52428800})
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(PARTITIONS)])
    started, seen = time.perf_counter(), 0
    while seen < total:
        for message in consumer.consume(num_messages=5000, timeout=0.1):
            if message.error():
                continue
            codec.decode(message.value(), topic=message.topic(), partition=message.partition(), offset=message.offset())
            seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return seen / elapsed


def count_records(settings: Settings, topics: tuple[str, ...]) -> int:
    from heals.projections.status import end_offsets

    return sum(end_offsets(settings, [(t, p) for t in topics for p in range(PARTITIONS)]).values())


def live(stack: ProjectionStack) -> float:
    started = time.perf_counter()
    stack.start_worker()
    stack.wait_caught_up(timeout=3600)
    elapsed = time.perf_counter() - started
    stack.kill_worker()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="Records to produce in all.")
    parser.add_argument("--patients", type=int, default=2000, help="Synthetic patients.")
    parser.add_argument("--skip-live", action="store_true", help="Measure raw and rebuild only.")
    parser.add_argument("--skip-rebuild", action="store_true", help="Measure the live worker only.")
    parser.add_argument("--live-batch-size", type=int, default=500, help="HEALS_PROJECTIONS_BATCH_SIZE of the worker.")
    parser.add_argument("--live-batch-seconds", type=float, default=0.2,
                        help="HEALS_PROJECTIONS_BATCH_SECONDS of the worker.")
    args = parser.parse_args()

    settings = Settings()
    codec = Codec(load_catalogue(settings.schema_dir))
    suffix = uuid.uuid4().hex[:8]
    topics = {role: f"bench.{role}.{suffix}" for role in ROLES}
    admin = AdminClient(client_config(settings))
    for future in admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics.values()]).values():
        future.result(30)
    schema = f"bench_projections_{suffix}"
    log = Path(tempfile.mkdtemp()) / "worker.log"
    stack = ProjectionStack(settings, codec, topics, schema, f"bench-projections-{suffix}", log, extra_env={
        "HEALS_PROJECTIONS_BATCH_SIZE": str(args.live_batch_size),
        "HEALS_PROJECTIONS_BATCH_SECONDS": str(args.live_batch_seconds),
    })
    try:
        started = time.perf_counter()
        total = produce(stack, args.events, args.patients)
        print(f"produced {total} records in {time.perf_counter() - started:.1f} s "
              f"({args.patients} patients, {PARTITIONS} partitions per topic)", flush=True)

        raw_by_topics: dict[tuple[str, ...], float] = {}

        projection_settings = ProjectionSettings(db_schema=schema, **{f"{r}_topic": t for r, t in topics.items()})
        for name, projection in ({} if args.skip_rebuild else PROJECTIONS).items():
            # Raw consume-and-decode of the same topics, right before the rebuild, so both see the same load.
            read = tuple(topics[role] for role in projection.topic_roles)
            raw = raw_consume(settings, codec, list(read), count_records(settings, read))
            report = rebuild_projection(settings, projection_settings, projection, codec)
            print(f"{name:<9} {report.records:>7} records: raw consume-and-decode {raw:>7,.0f}/s, "
                  f"rebuild {report.records_per_second:>7,.0f}/s in {report.seconds:5.1f} s "
                  f"({raw / report.records_per_second:.2f}x slower than raw)", flush=True)

        if not args.skip_live:
            with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            elapsed = live(stack)
            print(f"live worker, 7 projections from offset 0, batches of up to {args.live_batch_size} records "
                  f"or {args.live_batch_seconds} s: {total} records in {elapsed:.1f} s: "
                  f"{total / elapsed:,.0f} records/s (worker start included)", flush=True)
    finally:
        stack.kill_worker()
        with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            for name in PROJECTIONS:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(f"{schema}__rebuild_{name}")))
        for future in admin.delete_topics(list(topics.values())).values():
            future.result(30)


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    main()
