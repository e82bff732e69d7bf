"""Device readings into Kafka through the connector's writer: readings per second.

Each reading goes the way a PCD-01 observation goes after parsing: a
DeviceReadingRecorded envelope, the hash seal, Avro single-object encoding,
and the idempotent producer (acks=all), with the writer waiting for Kafka's
acknowledgement of each batch as the listener does before its ACK. The
topic is created for the run and deleted afterwards.

    .venv/bin/python bench/device_readings.py --readings 100000 --batch 100
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from heals.commands.models import Code, Quantity
from heals.connectors.devices.pcd01 import DeviceReading
from heals.connectors.hl7.kafka_writes import KafkaWriter
from heals.connectors.hl7.timestamps import Timestamp
from heals.kafka import client_config, make_producer
from heals.registry import make_codec
from heals.settings import get_settings

CODES = (("151562", "MDC_RESP_RATE", "/min"), ("150456", "MDC_PULS_OXIM_SAT_O2", "%"),
         ("150021", "MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]"), ("149530", "MDC_PULS_OXIM_PULS_RATE", "/min"))


def _readings(count: int, start: dt.datetime) -> list[DeviceReading]:
    readings = []
    for index in range(count):
        code, name, unit = CODES[index % len(CODES)]
        when = start + dt.timedelta(seconds=index // len(CODES))
        readings.append(DeviceReading(
            device_id=f"00BENCH{index % 200:09d}",
            code=Code(code=code, display=name, system="MDC"),
            value=Quantity(value=float(60 + index % 40), unit=unit, unit_system="UCUM"),
            observed_at=Timestamp(value=when, precision="second", fraction_digits=0, offset_minutes=0),
            patient_id=f"BENCH{index % 200:04d}",
            encounter_id=None,
        ))
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=100_000, help="Readings to write.")
    parser.add_argument("--batch", type=int, default=100, help="Readings per writer call, as in one message.")
    args = parser.parse_args()

    settings = get_settings()
    topic = f"bench.readings.{uuid.uuid4().hex[:8]}"
    admin = AdminClient(client_config(settings))
    admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[topic].result(30)
    try:
        writer = KafkaWriter(make_producer(settings), make_codec(settings), raw_topic=topic,
                             readings_topic=topic, tenant_id="bench")
        readings = _readings(args.readings, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))

        started = time.perf_counter()
        for offset in range(0, len(readings), args.batch):
            writer.readings(readings[offset:offset + args.batch], source_system="BENCH", message_type="ORU^R01",
                            control_id=str(offset), correlation_id=str(offset))
        elapsed = time.perf_counter() - started
        print(f"readings: {args.readings} in {elapsed:.2f} s = {args.readings / elapsed:,.0f} readings/s, "
              f"{args.batch} per acknowledged batch, 6 partitions")
    finally:
        admin.delete_topics([topic])[topic].result(30)


if __name__ == "__main__":
    main()
